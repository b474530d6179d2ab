//! The play protocol: versioned JSON messages over the `/ws` WebSocket, and
//! the join-token claims the orchestrator signs.
//!
//! These are the shared wire types: the orchestrator (which signs join
//! tokens) and the load-test tool (which plays) import them from here, so
//! this module depends only on `serde`.
//!
//! # Conversation
//!
//! 1. The client opens `/ws` and sends [`ClientMsg::Hello`] with the
//!    protocol version, its join token and, when reconnecting, the id of the
//!    last event it saw.
//! 2. The server answers [`ServerMsg::Welcome`] with the current state, then
//!    replays every stored event after `last_event_id` (events, chat and
//!    narration), then streams new ones live.
//! 3. Each [`ClientMsg::Command`] gets exactly one [`ServerMsg::Ack`] (the
//!    command is durable and applied) or [`ServerMsg::Error`] (nothing
//!    changed). The client's `id` is echoed back.
//! 4. The server closes the socket with a close frame whose reason says why
//!    (bad token, too slow, shutting down, ...); see [`close_code`].
//!
//! Every message is one JSON text frame of an object tagged by `"type"`.
//! Frames larger than the server's maximum frame size are refused.

use serde::{Deserialize, Serialize};

/// The protocol version this server speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// WebSocket close codes used by the server (4000-4999 are application codes).
pub mod close_code {
    /// The server is shutting down; reconnect later and resume.
    pub const GOING_AWAY: u16 = 1001;
    /// The client broke the protocol (bad first frame, wrong version).
    pub const PROTOCOL: u16 = 1002;
    /// A frame was larger than allowed.
    pub const TOO_BIG: u16 = 1009;
    /// The join token was refused (forged, expired, replayed, malformed).
    pub const BAD_TOKEN: u16 = 4001;
    /// The join token is for another campaign.
    pub const WRONG_CAMPAIGN: u16 = 4003;
    /// Every player seat is taken.
    pub const FULL: u16 = 4004;
    /// The client could not keep up; reconnect and resume from its last event id.
    pub const TOO_SLOW: u16 = 4008;
    /// The server is not accepting players yet.
    pub const NOT_READY: u16 = 4013;
}

/// What a token holder may do in a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Plays a faction: commands and chat.
    Player,
    /// The game master: watches and chats.
    Gm,
    /// Watches only.
    Spectator,
}

/// The claims of a join token: an EdDSA (Ed25519) JWT signed by the
/// orchestrator. Each token admits one connection: its `jti` is remembered
/// and a second use is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinClaims {
    /// The player (account) id.
    pub sub: String,
    /// The campaign this token admits to.
    pub campaign: String,
    /// The holder's role.
    pub role: Role,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issued at, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Unique token id.
    pub jti: String,
}

/// A resource amount, in whole units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stock {
    /// Ores and metals.
    #[serde(default)]
    pub minerals: u64,
    /// Fuel and power.
    #[serde(default)]
    pub energy: u64,
    /// Food and biomass.
    #[serde(default)]
    pub food: u64,
    /// Rare matter.
    #[serde(default)]
    pub exotics: u64,
}

/// A research field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Stronger fleets in combat.
    Weapons,
    /// Cheaper, faster travel.
    Propulsion,
    /// Higher income.
    Industry,
}

/// Kinds of treaty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreatyKind {
    /// No attacks between the parties.
    Peace,
    /// Peace, plus trade between players.
    Trade,
    /// Peace and shared purpose.
    Alliance,
}

/// A game command from a player. Ids are indices into the campaign world
/// (systems, factions, characters) or into the live state (fleets, offers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Command {
    /// Send a fleet along hyperlanes (shortest route) to a system.
    MoveFleet {
        /// The fleet.
        fleet: u32,
        /// The destination system.
        to: u32,
    },
    /// Build warships at a system you own; they join your idle fleet there
    /// or form a new one.
    BuildShips {
        /// Where to build.
        system: u32,
        /// How many ships (1-50).
        count: u32,
    },
    /// Claim an unowned system where one of your fleets is.
    BuildOutpost {
        /// The system.
        system: u32,
    },
    /// Settle a habitable planet of a system you own.
    Colonise {
        /// The system.
        system: u32,
        /// The planet's index in the system.
        planet: u32,
    },
    /// Put research into a field.
    Research {
        /// The field.
        field: Field,
    },
    /// Propose a treaty to another faction.
    ProposeTreaty {
        /// The other faction.
        to: u32,
        /// What kind.
        treaty: TreatyKind,
    },
    /// Accept a treaty another faction proposed to you.
    AcceptTreaty {
        /// The proposing faction.
        from: u32,
    },
    /// Break a treaty in force.
    BreakTreaty {
        /// The other party.
        with: u32,
    },
    /// Trade: with an NPC empire the exchange happens at once if it agrees to
    /// the rate; with a player it becomes an offer they may accept.
    Trade {
        /// The other faction.
        with: u32,
        /// What you give.
        give: Stock,
        /// What you want.
        receive: Stock,
    },
    /// Accept a player's trade offer made to you.
    AcceptTrade {
        /// The offer id.
        offer: u32,
    },
    /// Attack whatever of another faction stands at your fleet's system.
    Attack {
        /// Your fleet.
        fleet: u32,
        /// The faction attacked.
        target: u32,
    },
    /// Send a message to an NPC character.
    MessageNpc {
        /// The character.
        character: u32,
        /// The message (1-500 characters).
        text: String,
    },
}

impl Command {
    /// A short name of the command kind, for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::MoveFleet { .. } => "move_fleet",
            Command::BuildShips { .. } => "build_ships",
            Command::BuildOutpost { .. } => "build_outpost",
            Command::Colonise { .. } => "colonise",
            Command::Research { .. } => "research",
            Command::ProposeTreaty { .. } => "propose_treaty",
            Command::AcceptTreaty { .. } => "accept_treaty",
            Command::BreakTreaty { .. } => "break_treaty",
            Command::Trade { .. } => "trade",
            Command::AcceptTrade { .. } => "accept_trade",
            Command::Attack { .. } => "attack",
            Command::MessageNpc { .. } => "message_npc",
        }
    }
}

/// Something that happened in the game, as players see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum GameEvent {
    /// A fleet arrived at a system.
    FleetArrived {
        /// Fleet id.
        fleet: u32,
        /// Owner faction.
        faction: u32,
        /// System reached.
        system: u32,
    },
    /// Ships were built.
    ShipsBuilt {
        /// Builder.
        faction: u32,
        /// Fleet they joined.
        fleet: u32,
        /// Where.
        system: u32,
        /// How many.
        count: u32,
    },
    /// A system was claimed with an outpost.
    OutpostBuilt {
        /// Claimant.
        faction: u32,
        /// System.
        system: u32,
    },
    /// A planet was colonised.
    Colonised {
        /// Coloniser.
        faction: u32,
        /// System.
        system: u32,
        /// Planet index.
        planet: u32,
    },
    /// A research level was reached.
    ResearchCompleted {
        /// Researcher.
        faction: u32,
        /// Field.
        field: Field,
        /// New level.
        level: u32,
    },
    /// A treaty was proposed.
    TreatyProposed {
        /// Proposer.
        from: u32,
        /// Addressee.
        to: u32,
        /// Kind.
        treaty: TreatyKind,
    },
    /// A treaty came into force.
    TreatySigned {
        /// One party.
        a: u32,
        /// The other party.
        b: u32,
        /// Kind.
        treaty: TreatyKind,
    },
    /// A treaty was broken.
    TreatyBroken {
        /// Who broke it.
        by: u32,
        /// The other party.
        with: u32,
    },
    /// Goods changed hands.
    Traded {
        /// One side.
        a: u32,
        /// The other side.
        b: u32,
        /// What `a` gave.
        gave: Stock,
        /// What `a` got.
        got: Stock,
    },
    /// A trade offer was made to a player.
    TradeOffered {
        /// Offer id.
        offer: u32,
        /// Offering faction.
        from: u32,
        /// Addressee.
        to: u32,
    },
    /// A battle was fought.
    Battle {
        /// Attacker.
        attacker: u32,
        /// Defender.
        defender: u32,
        /// Where.
        system: u32,
        /// Attacker's ships lost.
        attacker_lost: u32,
        /// Defender's ships lost.
        defender_lost: u32,
        /// Whether the system changed hands.
        captured: bool,
    },
    /// A player messaged an NPC, who answered.
    NpcReplied {
        /// The character.
        character: u32,
        /// The player's faction.
        faction: u32,
        /// The character's attitude to the faction afterwards (-100..100).
        attitude: i32,
        /// The reply.
        reply: String,
    },
    /// A random galactic event.
    Anomaly {
        /// Where.
        system: u32,
        /// What.
        what: AnomalyKind,
    },
}

/// Random galactic events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// The owner finds a windfall of minerals.
    MineralBoom,
    /// An ion storm damages ships in the system.
    IonStorm,
    /// A derelict ship adds exotics to the owner's stock.
    DerelictSalvage,
    /// A solar flare costs the owner energy.
    SolarFlare,
}

/// Why a command was refused. Nothing changed when a command is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not a valid message (bad JSON, unknown type or command).
    BadMessage,
    /// The frame was too large.
    TooLarge,
    /// Sent before a successful hello.
    NotAuthenticated,
    /// The role may not do this.
    Forbidden,
    /// A referenced fleet, system, faction, planet, character or offer does not exist.
    NotFound,
    /// It is not yours.
    NotOwner,
    /// Not enough resources.
    InsufficientResources,
    /// No hyperlane route, or the fleet is already there or moving.
    Unreachable,
    /// The target cannot take this action (already owned, uninhabitable, ...).
    InvalidTarget,
    /// An amount was out of range.
    InvalidAmount,
    /// A treaty stands in the way, or the required one is missing.
    TreatyConflict,
    /// Nothing to accept.
    NoProposal,
    /// The counterpart refused.
    Refused,
    /// Too many messages; slow down.
    RateLimited,
    /// The server is draining and takes no more commands.
    ShuttingDown,
    /// The server failed; the command was not applied.
    Internal,
}

/// A message from the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ClientMsg {
    /// First frame: authenticate and (optionally) resume.
    Hello {
        /// Must equal [`PROTOCOL_VERSION`].
        version: u32,
        /// The join token (a JWT).
        token: String,
        /// The last event id the client saw; events after it are replayed.
        #[serde(default)]
        last_event_id: Option<u64>,
    },
    /// A game command.
    Command {
        /// Client-chosen request id, echoed in the answer.
        id: u64,
        /// The command.
        command: Command,
    },
    /// A chat line to the whole campaign.
    Chat {
        /// Client-chosen request id, echoed in the answer.
        id: u64,
        /// The text (1-500 characters).
        text: String,
    },
    /// Keep-alive; answered with [`ServerMsg::Pong`].
    Ping {
        /// Echoed back.
        id: u64,
    },
}

/// A message from the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ServerMsg {
    /// Hello accepted.
    Welcome {
        /// The protocol version.
        version: u32,
        /// The campaign.
        campaign: String,
        /// The player id from the token.
        player: String,
        /// The role from the token.
        role: Role,
        /// The faction the player plays (players only).
        faction: Option<u32>,
        /// The last completed tick.
        tick: u64,
        /// The state hash after the last applied command.
        state_hash: String,
        /// The newest event id (resume from here next time).
        last_event_id: u64,
        /// The full simulation state (see `game_server::sim::State`).
        state: serde_json::Value,
    },
    /// A command was stored and applied.
    Ack {
        /// The client's request id.
        id: u64,
        /// The command's position in the campaign's command log.
        seq: u64,
        /// The tick during which it was applied.
        tick: u64,
    },
    /// A request was refused; nothing changed.
    Error {
        /// The client's request id, when the frame had one.
        id: Option<u64>,
        /// What went wrong.
        code: ErrorCode,
        /// A human-readable explanation.
        message: String,
    },
    /// Something happened in the game.
    Event {
        /// Stored event id.
        event_id: u64,
        /// The tick it happened in.
        tick: u64,
        /// What happened.
        event: GameEvent,
    },
    /// Prose about recent events.
    Narration {
        /// Stored event id.
        event_id: u64,
        /// The tick narrated.
        tick: u64,
        /// The prose.
        text: String,
        /// Which narrator wrote it (`offline` or the provider name).
        narrator: String,
    },
    /// A chat line.
    Chat {
        /// Stored event id.
        event_id: u64,
        /// The tick it was sent in.
        tick: u64,
        /// The sender's player id.
        from: String,
        /// The sender's faction, if a player.
        faction: Option<u32>,
        /// The text.
        text: String,
    },
    /// Someone came or went.
    Presence {
        /// The player id.
        player: String,
        /// Whether they are now online.
        online: bool,
        /// How many are online now.
        online_count: u32,
    },
    /// A tick completed.
    Tick {
        /// The tick number.
        tick: u64,
        /// The state hash after it.
        state_hash: String,
    },
    /// Answer to a ping.
    Pong {
        /// The ping's id.
        id: u64,
    },
}

/// A stored, replayable item of the campaign feed (what `last_event_id` counts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "feed")]
pub enum FeedItem {
    /// A game event.
    Event {
        /// The event.
        event: GameEvent,
    },
    /// A chat line.
    Chat {
        /// Sender.
        from: String,
        /// Sender's faction.
        faction: Option<u32>,
        /// Text.
        text: String,
    },
    /// Narration.
    Narration {
        /// Prose.
        text: String,
        /// Narrator name.
        narrator: String,
    },
}

impl FeedItem {
    /// The server message that carries this item.
    pub fn into_message(self, event_id: u64, tick: u64) -> ServerMsg {
        match self {
            FeedItem::Event { event } => ServerMsg::Event {
                event_id,
                tick,
                event,
            },
            FeedItem::Chat {
                from,
                faction,
                text,
            } => ServerMsg::Chat {
                event_id,
                tick,
                from,
                faction,
                text,
            },
            FeedItem::Narration { text, narrator } => ServerMsg::Narration {
                event_id,
                tick,
                text,
                narrator,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_frame_round_trips_through_json() {
        let msg = ClientMsg::Command {
            id: 7,
            command: Command::MoveFleet { fleet: 1, to: 3 },
        };
        let text = serde_json::to_string(&msg).unwrap();
        assert_eq!(
            text,
            r#"{"type":"command","id":7,"command":{"kind":"move_fleet","fleet":1,"to":3}}"#
        );
        assert_eq!(serde_json::from_str::<ClientMsg>(&text).unwrap(), msg);
    }

    #[test]
    fn an_unknown_command_kind_does_not_parse() {
        let text = r#"{"type":"command","id":1,"command":{"kind":"nuke","system":1}}"#;
        assert!(serde_json::from_str::<ClientMsg>(text).is_err());
    }
}
