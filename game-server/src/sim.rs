//! The deterministic, tick-based simulation over a campaign-gen world.
//!
//! [`Sim`] holds the immutable [`World`] and the mutable [`State`]. The state
//! after any prefix of the command log is a pure function of (seed,
//! settings, generator version, log): there is no clock, no I/O, no floating
//! point and no hash-map iteration here, and random events draw from a
//! ChaCha20 stream keyed by (seed, tick). [`State::hash`] is the SHA-256 of
//! the state's canonical JSON.
//!
//! A command is checked completely before anything is changed, so a refused
//! command changes nothing.

use std::sync::Arc;

use campaign_gen::{Ethos, FactionKind, SystemId, World};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng as _, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::protocol::{AnomalyKind, Command, ErrorCode, Field, GameEvent, Stock, TreatyKind};

/// The simulation rules version, stored with each campaign.
pub const SIM_VERSION: u32 = 1;

/// Cost of one warship.
const SHIP_COST: Stock = Stock {
    minerals: 20,
    energy: 10,
    food: 0,
    exotics: 0,
};
/// Cost of an outpost.
const OUTPOST_COST: Stock = Stock {
    minerals: 50,
    energy: 20,
    food: 0,
    exotics: 0,
};
/// Cost of a colony.
const COLONY_COST: Stock = Stock {
    minerals: 30,
    energy: 0,
    food: 50,
    exotics: 0,
};
/// Energy spent by one research command, and the points it yields.
const RESEARCH_STEP: u64 = 25;
/// Longest NPC message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;
/// Most ships built by one command.
const MAX_BUILD: u32 = 50;

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    /// The machine-readable reason.
    pub code: ErrorCode,
    /// A human-readable explanation.
    pub message: String,
}

fn refuse<T>(code: ErrorCode, message: impl Into<String>) -> Result<T, CommandError> {
    Err(CommandError {
        code,
        message: message.into(),
    })
}

/// A faction's live state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactionState {
    /// The faction id.
    pub id: u32,
    /// Stockpile.
    pub stock: Stock,
    /// Research levels: weapons, propulsion, industry.
    pub levels: [u32; 3],
    /// Research points towards the next level, per field.
    pub progress: [u64; 3],
}

/// A system's live state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemState {
    /// Owning faction.
    pub owner: Option<u32>,
    /// Whether an outpost stands here.
    pub outpost: bool,
    /// Colonised planet indices, ascending.
    pub colonies: Vec<u32>,
}

/// A fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fleet {
    /// Fleet id (never reused).
    pub id: u32,
    /// Owner faction.
    pub owner: u32,
    /// Current system.
    pub at: u32,
    /// Warships.
    pub ships: u32,
    /// Remaining hops, next first.
    pub route: Vec<u32>,
}

/// A treaty in force; `a < b`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Treaty {
    /// Lower faction id.
    pub a: u32,
    /// Higher faction id.
    pub b: u32,
    /// Kind.
    pub kind: TreatyKind,
    /// Tick signed.
    pub since: u64,
}

/// A treaty proposal waiting for an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Proposer.
    pub from: u32,
    /// Addressee.
    pub to: u32,
    /// Kind.
    pub kind: TreatyKind,
}

/// A trade offer between players.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// Offer id.
    pub id: u32,
    /// Offering faction.
    pub from: u32,
    /// Addressee.
    pub to: u32,
    /// What the offerer gives.
    pub give: Stock,
    /// What the offerer wants.
    pub receive: Stock,
}

/// A character's attitude towards a faction, as it changes in play.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttitudeState {
    /// Character id.
    pub character: u32,
    /// Faction id.
    pub faction: u32,
    /// -100..=100.
    pub value: i32,
}

/// The whole mutable game state. Every collection is an ordered `Vec`, so
/// its JSON is canonical.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Completed ticks.
    pub tick: u64,
    /// Factions, by id.
    pub factions: Vec<FactionState>,
    /// Systems, by id.
    pub systems: Vec<SystemState>,
    /// Fleets, by ascending id.
    pub fleets: Vec<Fleet>,
    /// Next fleet id.
    pub next_fleet: u32,
    /// Treaties in force, sorted by (a, b).
    pub treaties: Vec<Treaty>,
    /// Open proposals, in order made.
    pub proposals: Vec<Proposal>,
    /// Open trade offers, in order made.
    pub offers: Vec<Offer>,
    /// Next offer id.
    pub next_offer: u32,
    /// Character attitudes, sorted by (character, faction).
    pub attitudes: Vec<AttitudeState>,
}

impl State {
    /// The canonical encoding: compact JSON in declaration order.
    pub fn canonical_json(&self) -> Vec<u8> {
        // Plain structs of integers, strings and enums always serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// SHA-256 of the canonical encoding, lower-case hex.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json()))
    }
}

fn add(a: Stock, b: Stock) -> Stock {
    Stock {
        minerals: a.minerals.saturating_add(b.minerals),
        energy: a.energy.saturating_add(b.energy),
        food: a.food.saturating_add(b.food),
        exotics: a.exotics.saturating_add(b.exotics),
    }
}

fn covers(have: Stock, need: Stock) -> bool {
    have.minerals >= need.minerals
        && have.energy >= need.energy
        && have.food >= need.food
        && have.exotics >= need.exotics
}

fn sub(a: Stock, b: Stock) -> Stock {
    Stock {
        minerals: a.minerals.saturating_sub(b.minerals),
        energy: a.energy.saturating_sub(b.energy),
        food: a.food.saturating_sub(b.food),
        exotics: a.exotics.saturating_sub(b.exotics),
    }
}

fn scale(a: Stock, n: u64) -> Stock {
    Stock {
        minerals: a.minerals.saturating_mul(n),
        energy: a.energy.saturating_mul(n),
        food: a.food.saturating_mul(n),
        exotics: a.exotics.saturating_mul(n),
    }
}

fn value(a: Stock) -> u64 {
    a.minerals
        .saturating_add(a.energy)
        .saturating_add(a.food)
        .saturating_add(a.exotics.saturating_mul(3))
}

fn field_index(field: Field) -> usize {
    match field {
        Field::Weapons => 0,
        Field::Propulsion => 1,
        Field::Industry => 2,
    }
}

/// The simulation: a world and the state played on it.
#[derive(Debug, Clone)]
pub struct Sim {
    world: Arc<World>,
    adjacency: Vec<Vec<SystemId>>,
    state: State,
}

impl Sim {
    /// The starting state of a campaign.
    pub fn new(world: Arc<World>) -> Sim {
        let adjacency = world.galaxy.adjacency();
        let factions = world
            .factions
            .iter()
            .map(|f| {
                let start = match f.kind {
                    FactionKind::Player { .. } => 150,
                    FactionKind::NpcEmpire => 300,
                };
                FactionState {
                    id: f.id.0,
                    stock: Stock {
                        minerals: start,
                        energy: start,
                        food: start,
                        exotics: 0,
                    },
                    levels: [0; 3],
                    progress: [0; 3],
                }
            })
            .collect();
        let mut systems: Vec<SystemState> = world
            .galaxy
            .systems
            .iter()
            .map(|s| SystemState {
                owner: s.owner.map(|o| o.0),
                outpost: false,
                colonies: Vec::new(),
            })
            .collect();
        let mut fleets = Vec::new();
        for f in &world.factions {
            let capital = f.capital.index();
            if let (Some(sys), Some(state)) =
                (world.galaxy.systems.get(capital), systems.get_mut(capital))
            {
                state.owner = Some(f.id.0);
                let first = sys
                    .planets
                    .iter()
                    .position(|p| p.kind.habitable())
                    .unwrap_or(0);
                if !sys.planets.is_empty() {
                    state.colonies = vec![first as u32];
                }
            }
            let ships = match f.kind {
                FactionKind::Player { .. } => 3,
                FactionKind::NpcEmpire => 5,
            };
            fleets.push(Fleet {
                id: fleets.len() as u32,
                owner: f.id.0,
                at: f.capital.0,
                ships,
                route: Vec::new(),
            });
        }
        let mut attitudes: Vec<AttitudeState> = world
            .characters
            .iter()
            .flat_map(|c| {
                c.attitudes.iter().map(move |a| AttitudeState {
                    character: c.id.0,
                    faction: a.faction.0,
                    value: a.value,
                })
            })
            .collect();
        attitudes.sort_by_key(|a| (a.character, a.faction));
        let next_fleet = fleets.len() as u32;
        Sim {
            world,
            adjacency,
            state: State {
                tick: 0,
                factions,
                systems,
                fleets,
                next_fleet,
                treaties: Vec::new(),
                proposals: Vec::new(),
                offers: Vec::new(),
                next_offer: 0,
                attitudes,
            },
        }
    }

    /// The world played on.
    pub fn world(&self) -> &Arc<World> {
        &self.world
    }

    /// The current state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Completed ticks.
    pub fn tick(&self) -> u64 {
        self.state.tick
    }

    /// The state hash.
    pub fn hash(&self) -> String {
        self.state.hash()
    }

    fn faction_exists(&self, id: u32) -> Result<(), CommandError> {
        if (id as usize) < self.state.factions.len() {
            Ok(())
        } else {
            refuse(ErrorCode::NotFound, format!("no faction {id}"))
        }
    }

    fn system(&self, id: u32) -> Result<&SystemState, CommandError> {
        match self.state.systems.get(id as usize) {
            Some(s) => Ok(s),
            None => refuse(ErrorCode::NotFound, format!("no system {id}")),
        }
    }

    fn fleet_index(&self, id: u32, owner: u32) -> Result<usize, CommandError> {
        match self.state.fleets.binary_search_by_key(&id, |f| f.id) {
            Ok(i) if self.state.fleets[i].owner == owner => Ok(i),
            Ok(_) => refuse(ErrorCode::NotOwner, format!("fleet {id} is not yours")),
            Err(_) => refuse(ErrorCode::NotFound, format!("no fleet {id}")),
        }
    }

    fn stock(&self, faction: u32) -> Stock {
        self.state
            .factions
            .get(faction as usize)
            .map(|f| f.stock)
            .unwrap_or_default()
    }

    fn pay(&mut self, faction: u32, cost: Stock) {
        if let Some(f) = self.state.factions.get_mut(faction as usize) {
            f.stock = sub(f.stock, cost);
        }
    }

    fn earn(&mut self, faction: u32, gain: Stock) {
        if let Some(f) = self.state.factions.get_mut(faction as usize) {
            f.stock = add(f.stock, gain);
        }
    }

    fn afford(&self, faction: u32, cost: Stock) -> Result<(), CommandError> {
        if covers(self.stock(faction), cost) {
            Ok(())
        } else {
            refuse(
                ErrorCode::InsufficientResources,
                format!(
                    "needs {} minerals, {} energy, {} food, {} exotics",
                    cost.minerals, cost.energy, cost.food, cost.exotics
                ),
            )
        }
    }

    /// The treaty in force between two factions.
    pub fn treaty(&self, x: u32, y: u32) -> Option<&Treaty> {
        let (a, b) = if x < y { (x, y) } else { (y, x) };
        self.state.treaties.iter().find(|t| t.a == a && t.b == b)
    }

    fn is_npc(&self, faction: u32) -> bool {
        self.world
            .factions
            .get(faction as usize)
            .is_some_and(|f| matches!(f.kind, FactionKind::NpcEmpire))
    }

    fn ethos(&self, faction: u32) -> Option<Ethos> {
        self.world.factions.get(faction as usize).map(|f| f.ethos)
    }

    /// Shortest hyperlane route from `from` to `to` (excluding `from`);
    /// neighbours are visited in id order, so the route is deterministic.
    fn route(&self, from: u32, to: u32) -> Option<Vec<u32>> {
        let n = self.adjacency.len();
        let (from, to) = (from as usize, to as usize);
        if from >= n || to >= n {
            return None;
        }
        let mut prev = vec![usize::MAX; n];
        let mut seen = vec![false; n];
        let mut queue = std::collections::VecDeque::from([from]);
        seen[from] = true;
        while let Some(s) = queue.pop_front() {
            if s == to {
                break;
            }
            for next in &self.adjacency[s] {
                let next = next.index();
                if !seen[next] {
                    seen[next] = true;
                    prev[next] = s;
                    queue.push_back(next);
                }
            }
        }
        if !seen[to] {
            return None;
        }
        let mut route = Vec::new();
        let mut at = to;
        while at != from {
            route.push(at as u32);
            at = prev[at];
        }
        route.reverse();
        Some(route)
    }

    /// Checks and applies one command for `faction`. On error nothing changed.
    pub fn apply(
        &mut self,
        faction: u32,
        command: &Command,
    ) -> Result<Vec<GameEvent>, CommandError> {
        self.faction_exists(faction)?;
        match *command {
            Command::MoveFleet { fleet, to } => {
                let i = self.fleet_index(fleet, faction)?;
                self.system(to)?;
                let at = self.state.fleets[i].at;
                if at == to {
                    return refuse(ErrorCode::Unreachable, "the fleet is already there");
                }
                let Some(route) = self.route(at, to) else {
                    return refuse(
                        ErrorCode::Unreachable,
                        format!("no hyperlane route to {to}"),
                    );
                };
                self.state.fleets[i].route = route;
                Ok(Vec::new())
            }
            Command::BuildShips { system, count } => {
                if !(1..=MAX_BUILD).contains(&count) {
                    return refuse(
                        ErrorCode::InvalidAmount,
                        format!("build 1 to {MAX_BUILD} ships"),
                    );
                }
                if self.system(system)?.owner != Some(faction) {
                    return refuse(ErrorCode::NotOwner, format!("system {system} is not yours"));
                }
                let cost = scale(SHIP_COST, u64::from(count));
                self.afford(faction, cost)?;
                self.pay(faction, cost);
                let idle = self
                    .state
                    .fleets
                    .iter_mut()
                    .find(|f| f.owner == faction && f.at == system && f.route.is_empty());
                let fleet = match idle {
                    Some(f) => {
                        f.ships = f.ships.saturating_add(count);
                        f.id
                    }
                    None => {
                        let id = self.state.next_fleet;
                        self.state.next_fleet += 1;
                        self.state.fleets.push(Fleet {
                            id,
                            owner: faction,
                            at: system,
                            ships: count,
                            route: Vec::new(),
                        });
                        id
                    }
                };
                Ok(vec![GameEvent::ShipsBuilt {
                    faction,
                    fleet,
                    system,
                    count,
                }])
            }
            Command::BuildOutpost { system } => {
                if self.system(system)?.owner.is_some() {
                    return refuse(
                        ErrorCode::InvalidTarget,
                        format!("system {system} is already held"),
                    );
                }
                if !self
                    .state
                    .fleets
                    .iter()
                    .any(|f| f.owner == faction && f.at == system)
                {
                    return refuse(
                        ErrorCode::InvalidTarget,
                        format!("none of your fleets is at system {system}"),
                    );
                }
                self.afford(faction, OUTPOST_COST)?;
                self.pay(faction, OUTPOST_COST);
                let s = &mut self.state.systems[system as usize];
                s.owner = Some(faction);
                s.outpost = true;
                Ok(vec![GameEvent::OutpostBuilt { faction, system }])
            }
            Command::Colonise { system, planet } => {
                let s = self.system(system)?;
                if s.owner != Some(faction) {
                    return refuse(ErrorCode::NotOwner, format!("system {system} is not yours"));
                }
                let Some(p) = self
                    .world
                    .galaxy
                    .systems
                    .get(system as usize)
                    .and_then(|s| s.planets.get(planet as usize))
                else {
                    return refuse(ErrorCode::NotFound, format!("no planet {planet} there"));
                };
                if !p.kind.habitable() {
                    return refuse(
                        ErrorCode::InvalidTarget,
                        format!("{} is not habitable", p.name),
                    );
                }
                if s.colonies.contains(&planet) {
                    return refuse(
                        ErrorCode::InvalidTarget,
                        format!("{} is already colonised", p.name),
                    );
                }
                self.afford(faction, COLONY_COST)?;
                self.pay(faction, COLONY_COST);
                let colonies = &mut self.state.systems[system as usize].colonies;
                colonies.push(planet);
                colonies.sort_unstable();
                Ok(vec![GameEvent::Colonised {
                    faction,
                    system,
                    planet,
                }])
            }
            Command::Research { field } => {
                let cost = Stock {
                    energy: RESEARCH_STEP,
                    ..Stock::default()
                };
                self.afford(faction, cost)?;
                self.pay(faction, cost);
                let f = &mut self.state.factions[faction as usize];
                let i = field_index(field);
                f.progress[i] += RESEARCH_STEP;
                let needed = 100 * u64::from(f.levels[i] + 1);
                if f.progress[i] >= needed {
                    f.progress[i] -= needed;
                    f.levels[i] += 1;
                    return Ok(vec![GameEvent::ResearchCompleted {
                        faction,
                        field,
                        level: f.levels[i],
                    }]);
                }
                Ok(Vec::new())
            }
            Command::ProposeTreaty { to, treaty } => {
                self.faction_exists(to)?;
                if to == faction {
                    return refuse(
                        ErrorCode::InvalidTarget,
                        "a faction cannot treat with itself",
                    );
                }
                if self.treaty(faction, to).is_some_and(|t| t.kind == treaty) {
                    return refuse(ErrorCode::TreatyConflict, "that treaty is already in force");
                }
                if self.is_npc(to) {
                    let willing = matches!(
                        (self.ethos(to), treaty),
                        (Some(Ethos::Harmonious | Ethos::Mercantile), _)
                            | (Some(Ethos::Curious), TreatyKind::Peace | TreatyKind::Trade)
                            | (Some(Ethos::Isolationist), TreatyKind::Peace)
                    );
                    if !willing {
                        return refuse(
                            ErrorCode::Refused,
                            format!("{} refuses", self.faction_name(to)),
                        );
                    }
                    return Ok(self.sign(faction, to, treaty));
                }
                self.state
                    .proposals
                    .retain(|p| !(p.from == faction && p.to == to));
                self.state.proposals.push(Proposal {
                    from: faction,
                    to,
                    kind: treaty,
                });
                Ok(vec![GameEvent::TreatyProposed {
                    from: faction,
                    to,
                    treaty,
                }])
            }
            Command::AcceptTreaty { from } => {
                self.faction_exists(from)?;
                let Some(i) = self
                    .state
                    .proposals
                    .iter()
                    .position(|p| p.from == from && p.to == faction)
                else {
                    return refuse(
                        ErrorCode::NoProposal,
                        format!("faction {from} proposed nothing"),
                    );
                };
                let kind = self.state.proposals.remove(i).kind;
                Ok(self.sign(from, faction, kind))
            }
            Command::BreakTreaty { with } => {
                self.faction_exists(with)?;
                let (a, b) = (faction.min(with), faction.max(with));
                let Some(i) = self
                    .state
                    .treaties
                    .iter()
                    .position(|t| t.a == a && t.b == b)
                else {
                    return refuse(ErrorCode::TreatyConflict, "no treaty to break");
                };
                self.state.treaties.remove(i);
                // Characters of the betrayed faction remember.
                let world = Arc::clone(&self.world);
                for c in world
                    .characters
                    .iter()
                    .filter(|c| c.faction.is_some_and(|f| f.0 == with))
                {
                    self.shift_attitude(c.id.0, faction, -20);
                }
                Ok(vec![GameEvent::TreatyBroken { by: faction, with }])
            }
            Command::Trade {
                with,
                give,
                receive,
            } => {
                self.faction_exists(with)?;
                if with == faction {
                    return refuse(
                        ErrorCode::InvalidTarget,
                        "a faction cannot trade with itself",
                    );
                }
                if value(give) == 0 && value(receive) == 0 {
                    return refuse(ErrorCode::InvalidAmount, "a trade must move something");
                }
                self.afford(faction, give)?;
                if self.is_npc(with) {
                    // NPC empires want a margin; merchants want less.
                    let margin = match self.ethos(with) {
                        Some(Ethos::Mercantile) => 100,
                        Some(Ethos::Isolationist) => 200,
                        _ => 125,
                    };
                    if value(give).saturating_mul(100) < value(receive).saturating_mul(margin) {
                        return refuse(
                            ErrorCode::Refused,
                            format!("{} wants a better rate", self.faction_name(with)),
                        );
                    }
                    if !covers(self.stock(with), receive) {
                        return refuse(
                            ErrorCode::Refused,
                            format!("{} cannot supply that", self.faction_name(with)),
                        );
                    }
                    self.exchange(faction, with, give, receive);
                    return Ok(vec![GameEvent::Traded {
                        a: faction,
                        b: with,
                        gave: give,
                        got: receive,
                    }]);
                }
                if !self
                    .treaty(faction, with)
                    .is_some_and(|t| matches!(t.kind, TreatyKind::Trade | TreatyKind::Alliance))
                {
                    return refuse(
                        ErrorCode::TreatyConflict,
                        "trading with a player needs a trade treaty or an alliance",
                    );
                }
                let id = self.state.next_offer;
                self.state.next_offer += 1;
                self.state.offers.push(Offer {
                    id,
                    from: faction,
                    to: with,
                    give,
                    receive,
                });
                Ok(vec![GameEvent::TradeOffered {
                    offer: id,
                    from: faction,
                    to: with,
                }])
            }
            Command::AcceptTrade { offer } => {
                let Some(i) = self.state.offers.iter().position(|o| o.id == offer) else {
                    return refuse(ErrorCode::NotFound, format!("no offer {offer}"));
                };
                let o = self.state.offers[i].clone();
                if o.to != faction {
                    return refuse(ErrorCode::NotOwner, "the offer is not addressed to you");
                }
                self.afford(faction, o.receive)?;
                if !covers(self.stock(o.from), o.give) {
                    return refuse(
                        ErrorCode::InsufficientResources,
                        "the offering faction can no longer pay",
                    );
                }
                self.state.offers.remove(i);
                self.exchange(o.from, o.to, o.give, o.receive);
                Ok(vec![GameEvent::Traded {
                    a: o.from,
                    b: o.to,
                    gave: o.give,
                    got: o.receive,
                }])
            }
            Command::Attack { fleet, target } => {
                let i = self.fleet_index(fleet, faction)?;
                self.faction_exists(target)?;
                if target == faction {
                    return refuse(ErrorCode::InvalidTarget, "a faction cannot attack itself");
                }
                if self.treaty(faction, target).is_some() {
                    return refuse(
                        ErrorCode::TreatyConflict,
                        "break the treaty before attacking",
                    );
                }
                if !self.state.fleets[i].route.is_empty() {
                    return refuse(ErrorCode::InvalidTarget, "the fleet is under way");
                }
                let at = self.state.fleets[i].at;
                let held = self.state.systems[at as usize].owner == Some(target);
                let defenders = self
                    .state
                    .fleets
                    .iter()
                    .any(|f| f.owner == target && f.at == at);
                if !held && !defenders {
                    return refuse(
                        ErrorCode::InvalidTarget,
                        format!("faction {target} has nothing at system {at}"),
                    );
                }
                Ok(vec![self.battle(i, target)])
            }
            Command::MessageNpc {
                character,
                ref text,
            } => {
                let chars = text.trim().chars().count();
                if chars == 0 || chars > MAX_MESSAGE_CHARS {
                    return refuse(
                        ErrorCode::InvalidAmount,
                        format!("a message has 1 to {MAX_MESSAGE_CHARS} characters"),
                    );
                }
                let world = Arc::clone(&self.world);
                let Some(c) = world.characters.get(character as usize) else {
                    return refuse(ErrorCode::NotFound, format!("no character {character}"));
                };
                let friendly = c
                    .faction
                    .is_some_and(|f| self.treaty(faction, f.0).is_some());
                let attitude =
                    self.shift_attitude(character, faction, if friendly { 3 } else { 1 });
                let mood = if attitude >= 40 {
                    "welcomes your words"
                } else if attitude >= 0 {
                    "listens politely"
                } else if attitude >= -40 {
                    "answers coldly"
                } else {
                    "spurns your envoy"
                };
                let reply = format!("{} {}, {} {}.", c.name, c.title, c.role.label(), mood);
                Ok(vec![GameEvent::NpcReplied {
                    character,
                    faction,
                    attitude,
                    reply,
                }])
            }
        }
    }

    fn faction_name(&self, id: u32) -> String {
        self.world
            .factions
            .get(id as usize)
            .map(|f| f.name.clone())
            .unwrap_or_else(|| format!("faction {id}"))
    }

    fn sign(&mut self, x: u32, y: u32, kind: TreatyKind) -> Vec<GameEvent> {
        let (a, b) = (x.min(y), x.max(y));
        let since = self.state.tick;
        match self
            .state
            .treaties
            .binary_search_by_key(&(a, b), |t| (t.a, t.b))
        {
            Ok(i) => {
                self.state.treaties[i].kind = kind;
                self.state.treaties[i].since = since;
            }
            Err(i) => self.state.treaties.insert(i, Treaty { a, b, kind, since }),
        }
        vec![GameEvent::TreatySigned { a, b, treaty: kind }]
    }

    fn exchange(&mut self, a: u32, b: u32, a_gives: Stock, a_gets: Stock) {
        self.pay(a, a_gives);
        self.earn(b, a_gives);
        self.pay(b, a_gets);
        self.earn(a, a_gets);
    }

    fn shift_attitude(&mut self, character: u32, faction: u32, delta: i32) -> i32 {
        let list = &mut self.state.attitudes;
        let i = match list.binary_search_by_key(&(character, faction), |a| (a.character, a.faction))
        {
            Ok(i) => i,
            Err(i) => {
                list.insert(
                    i,
                    AttitudeState {
                        character,
                        faction,
                        value: 0,
                    },
                );
                i
            }
        };
        let v = (list[i].value + delta).clamp(-100, 100);
        list[i].value = v;
        v
    }

    fn power(&self, faction: u32, ships: u32) -> u64 {
        let weapons = self
            .state
            .factions
            .get(faction as usize)
            .map_or(0, |f| f.levels[0]);
        u64::from(ships) * (10 + 2 * u64::from(weapons))
    }

    /// Deterministic combat: three rounds of simultaneous fire, no dice.
    fn battle(&mut self, attacker: usize, target: u32) -> GameEvent {
        let att = self.state.fleets[attacker].clone();
        let at = att.at;
        let sys = &self.state.systems[at as usize];
        let fortified = if sys.owner == Some(target) {
            15 + 10 * sys.colonies.len() as u64 + if sys.outpost { 10 } else { 0 }
        } else {
            0
        };
        let mut att_ships = att.ships;
        let def_total: u64 = self
            .state
            .fleets
            .iter()
            .filter(|f| f.owner == target && f.at == at)
            .map(|f| u64::from(f.ships))
            .sum();
        let mut def_ships = u32::try_from(def_total).unwrap_or(u32::MAX);
        let (start_att, start_def) = (att_ships, def_ships);
        for _ in 0..3 {
            if att_ships == 0 || (def_ships == 0 && fortified == 0) {
                break;
            }
            let att_power = self.power(att.owner, att_ships);
            let def_power = self.power(target, def_ships) + fortified;
            let def_loss = (att_power / 25).max(1).min(u64::from(def_ships)) as u32;
            let att_loss = (def_power / 25).max(1).min(u64::from(att_ships)) as u32;
            def_ships -= def_loss;
            att_ships -= att_loss;
            if def_ships == 0 {
                break;
            }
        }
        // Defender losses come out of their fleets in id order.
        let mut to_lose = start_def - def_ships;
        for f in self
            .state
            .fleets
            .iter_mut()
            .filter(|f| f.owner == target && f.at == at)
        {
            let l = to_lose.min(f.ships);
            f.ships -= l;
            to_lose -= l;
        }
        self.state.fleets[attacker].ships = att_ships;
        self.state.fleets.retain(|f| f.ships > 0);
        let captured = att_ships > 0
            && def_ships == 0
            && self.state.systems[at as usize].owner == Some(target);
        if captured {
            let s = &mut self.state.systems[at as usize];
            s.owner = Some(att.owner);
            s.outpost = true;
        }
        GameEvent::Battle {
            attacker: att.owner,
            defender: target,
            system: at,
            attacker_lost: start_att - att_ships,
            defender_lost: start_def - def_ships,
            captured,
        }
    }

    /// Advances one tick: movement, income, random events. Returns what
    /// happened; the new tick number is [`Sim::tick`].
    pub fn step(&mut self) -> Vec<GameEvent> {
        let mut events = Vec::new();
        self.state.tick += 1;
        let tick = self.state.tick;
        // Movement: one hop per tick.
        for f in &mut self.state.fleets {
            if !f.route.is_empty() {
                f.at = f.route.remove(0);
                if f.route.is_empty() {
                    events.push(GameEvent::FleetArrived {
                        fleet: f.id,
                        faction: f.owner,
                        system: f.at,
                    });
                }
            }
        }
        // Income from held systems and colonies.
        let world = Arc::clone(&self.world);
        let mut income = vec![Stock::default(); self.state.factions.len()];
        for (sys, state) in world.galaxy.systems.iter().zip(&self.state.systems) {
            let Some(owner) = state.owner else { continue };
            let Some(slot) = income.get_mut(owner as usize) else {
                continue;
            };
            let mut gain = Stock {
                minerals: 2,
                energy: 2,
                food: 1,
                exotics: 0,
            };
            for &p in &state.colonies {
                if let Some(planet) = sys.planets.get(p as usize) {
                    let r = planet.resources;
                    gain = add(
                        gain,
                        Stock {
                            minerals: u64::from(r.minerals / 10 + 1),
                            energy: u64::from(r.energy / 10 + 1),
                            food: u64::from(r.food / 10 + 1),
                            exotics: u64::from(r.exotics / 20),
                        },
                    );
                }
            }
            *slot = add(*slot, gain);
        }
        for (f, gain) in self.state.factions.iter_mut().zip(income) {
            let industry = u64::from(f.levels[2]);
            let gain = Stock {
                minerals: gain.minerals + gain.minerals * industry / 4,
                energy: gain.energy + gain.energy * industry / 4,
                ..gain
            };
            f.stock = add(f.stock, gain);
        }
        // Random galactic events from the (seed, tick) stream.
        let mut rng = event_stream(world.seed, tick);
        if rng.next_u32().is_multiple_of(8) && !self.state.systems.is_empty() {
            let system = (rng.next_u32() % self.state.systems.len() as u32) as usize;
            let what = match rng.next_u32() % 4 {
                0 => AnomalyKind::MineralBoom,
                1 => AnomalyKind::IonStorm,
                2 => AnomalyKind::DerelictSalvage,
                _ => AnomalyKind::SolarFlare,
            };
            let owner = self.state.systems[system].owner;
            match (what, owner) {
                (AnomalyKind::MineralBoom, Some(o)) => self.earn(
                    o,
                    Stock {
                        minerals: 40,
                        ..Stock::default()
                    },
                ),
                (AnomalyKind::DerelictSalvage, Some(o)) => self.earn(
                    o,
                    Stock {
                        exotics: 5,
                        ..Stock::default()
                    },
                ),
                (AnomalyKind::SolarFlare, Some(o)) => self.pay(
                    o,
                    Stock {
                        energy: 30,
                        ..Stock::default()
                    },
                ),
                (AnomalyKind::IonStorm, _) => {
                    for f in self
                        .state
                        .fleets
                        .iter_mut()
                        .filter(|f| f.at == system as u32)
                    {
                        f.ships -= f.ships / 5;
                    }
                }
                _ => {}
            }
            events.push(GameEvent::Anomaly {
                system: system as u32,
                what,
            });
        }
        events
    }
}

/// The random stream for events of one tick.
fn event_stream(seed: u64, tick: u64) -> ChaCha20Rng {
    let mut h = Sha256::new();
    h.update(b"startales/game-server/events/");
    h.update(seed.to_le_bytes());
    h.update(tick.to_le_bytes());
    let key: [u8; 32] = h.finalize().into();
    ChaCha20Rng::from_seed(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use campaign_gen::{Settings, generate};

    fn sim() -> Sim {
        let settings = Settings::builder().players(4).build().unwrap();
        Sim::new(Arc::new(generate(7, &settings)))
    }

    #[test]
    fn the_same_commands_give_the_same_hash() {
        let mut a = sim();
        let mut b = sim();
        for s in [&mut a, &mut b] {
            s.apply(
                0,
                &Command::Research {
                    field: Field::Weapons,
                },
            )
            .unwrap();
            for _ in 0..20 {
                s.step();
            }
        }
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.tick(), 20);
    }

    #[test]
    fn a_refused_command_changes_nothing() {
        let mut s = sim();
        let before = s.hash();
        let err = s
            .apply(
                0,
                &Command::BuildShips {
                    system: 0,
                    count: 10_000,
                },
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidAmount);
        let err = s
            .apply(0, &Command::MoveFleet { fleet: 1, to: 0 })
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotOwner);
        let err = s.apply(0, &Command::AcceptTreaty { from: 1 }).unwrap_err();
        assert_eq!(err.code, ErrorCode::NoProposal);
        assert_eq!(s.hash(), before);
    }

    #[test]
    fn a_fleet_moves_one_hop_per_tick_along_hyperlanes() {
        let mut s = sim();
        let home = s.state().fleets[0].at;
        let far = s
            .world()
            .galaxy
            .hop_distances(SystemId(home))
            .iter()
            .position(|d| *d == Some(2))
            .unwrap() as u32;
        s.apply(0, &Command::MoveFleet { fleet: 0, to: far })
            .unwrap();
        s.step();
        assert_ne!(s.state().fleets[0].at, far);
        let events = s.step();
        assert_eq!(s.state().fleets[0].at, far);
        assert!(events.contains(&GameEvent::FleetArrived {
            fleet: 0,
            faction: 0,
            system: far
        }));
    }

    #[test]
    fn treaties_are_proposed_accepted_and_broken() {
        let mut s = sim();
        s.apply(
            0,
            &Command::ProposeTreaty {
                to: 1,
                treaty: TreatyKind::Trade,
            },
        )
        .unwrap();
        s.apply(1, &Command::AcceptTreaty { from: 0 }).unwrap();
        assert_eq!(s.treaty(0, 1).unwrap().kind, TreatyKind::Trade);
        let give = Stock {
            minerals: 10,
            ..Stock::default()
        };
        let events = s
            .apply(
                0,
                &Command::Trade {
                    with: 1,
                    give,
                    receive: Stock {
                        food: 5,
                        ..Stock::default()
                    },
                },
            )
            .unwrap();
        let GameEvent::TradeOffered { offer, .. } = events[0] else {
            panic!("expected an offer")
        };
        s.apply(1, &Command::AcceptTrade { offer }).unwrap();
        assert_eq!(s.state().factions[0].stock.minerals, 140);
        s.apply(1, &Command::BreakTreaty { with: 0 }).unwrap();
        assert!(s.treaty(0, 1).is_none());
    }

    #[test]
    fn combat_is_deterministic_and_can_capture_a_system() {
        let mut s = sim();
        // Give faction 0 a big fleet at faction 1's capital.
        let target = s.world().factions[1].capital.0;
        s.state.fleets.push(Fleet {
            id: 99,
            owner: 0,
            at: target,
            ships: 40,
            route: Vec::new(),
        });
        s.state.next_fleet = 100;
        let mut t = s.clone();
        let a = s
            .apply(
                0,
                &Command::Attack {
                    fleet: 99,
                    target: 1,
                },
            )
            .unwrap();
        let b = t
            .apply(
                0,
                &Command::Attack {
                    fleet: 99,
                    target: 1,
                },
            )
            .unwrap();
        assert_eq!(a, b);
        assert!(matches!(a[0], GameEvent::Battle { captured: true, .. }));
        assert_eq!(s.state().systems[target as usize].owner, Some(0));
    }
}
