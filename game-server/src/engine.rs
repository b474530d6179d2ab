//! The engine: the simulation and its database, driven from one thread.
//!
//! Everything that changes the game goes through [`Engine`] in order:
//! commands, ticks, chat, narration, joins. A command is appended to the
//! log inside a transaction, applied, and committed before it is
//! acknowledged; a refused command is rolled back and leaves nothing. The
//! [`EngineHandle`] runs the engine on its own OS thread (SQLite calls
//! block) and lets async code call it.
//!
//! [`replay`] rebuilds the state from the seed and the log, checking every
//! stored tick hash: it is how the server recovers after a crash and how
//! `game-server replay` proves determinism.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use campaign_gen::{Settings, World, generate};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::metrics::Metrics;
use crate::narrator::Narration;
use crate::protocol::{Command, ErrorCode, FeedItem, GameEvent, JoinClaims, Role, ServerMsg};
use crate::sim::{CommandError, MAX_MESSAGE_CHARS, Sim};
use crate::store::{CampaignMeta, Store, StoreError};

/// Most feed items replayed to a reconnecting client (the newest ones).
pub const MAX_BACKLOG: u32 = 5_000;

/// Engine failures.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Replaying the log did not reproduce the stored hashes.
    #[error("replay diverged at tick {tick}: stored {stored}, replayed {replayed}")]
    Diverged {
        /// The tick.
        tick: u64,
        /// Stored hash.
        stored: String,
        /// Recomputed hash.
        replayed: String,
    },
    /// A logged command no longer applies.
    #[error("logged command {seq} does not apply on replay: {error}")]
    BadLog {
        /// Its seq.
        seq: u64,
        /// Why.
        error: String,
    },
    /// Stored settings are invalid.
    #[error("stored settings are invalid: {0}")]
    Settings(String),
    /// The engine thread is gone.
    #[error("the engine has stopped")]
    Gone,
}

/// The result of a replay.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// The rebuilt simulation.
    pub sim: Sim,
    /// Commands applied.
    pub commands: u64,
    /// Ticks replayed (each checked against its stored hash).
    pub ticks: u64,
}

/// The world of a campaign, from its stored metadata.
pub fn world_of(meta: &CampaignMeta) -> Result<Arc<World>, EngineError> {
    let settings: Settings = serde_json::from_value(meta.settings.clone())
        .map_err(|e| EngineError::Settings(e.to_string()))?;
    Ok(Arc::new(generate(meta.seed, &settings)))
}

/// Rebuilds the state from the seed and the command log, checking every
/// stored tick hash.
pub fn replay(store: &Store, world: Arc<World>) -> Result<Replayed, EngineError> {
    let commands = store.commands()?;
    let ticks = store.tick_hashes()?;
    let mut sim = Sim::new(world);
    let mut next = commands.iter().peekable();
    let mut applied = 0;
    let mut apply_due = |sim: &mut Sim,
                         next: &mut std::iter::Peekable<std::slice::Iter<'_, _>>|
     -> Result<(), EngineError> {
        while let Some(c) = next.next_if(|c: &&crate::store::LoggedCommand| c.tick <= sim.tick()) {
            if c.tick != sim.tick() {
                return Err(EngineError::BadLog {
                    seq: c.seq,
                    error: format!("logged for tick {} but replay is at {}", c.tick, sim.tick()),
                });
            }
            sim.apply(c.faction, &c.command)
                .map_err(|e| EngineError::BadLog {
                    seq: c.seq,
                    error: e.to_string(),
                })?;
            applied += 1;
        }
        Ok(())
    };
    for (tick, stored) in &ticks {
        apply_due(&mut sim, &mut next)?;
        sim.step();
        let replayed = sim.hash();
        if sim.tick() != *tick || replayed != *stored {
            return Err(EngineError::Diverged {
                tick: *tick,
                stored: stored.clone(),
                replayed,
            });
        }
    }
    apply_due(&mut sim, &mut next)?;
    if let Some(c) = next.next() {
        return Err(EngineError::BadLog {
            seq: c.seq,
            error: format!(
                "logged for tick {} beyond the last tick {}",
                c.tick,
                sim.tick()
            ),
        });
    }
    Ok(Replayed {
        sim,
        commands: applied,
        ticks: ticks.len() as u64,
    })
}

/// Who a connection is, once admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    /// Player id.
    pub player: String,
    /// Role.
    pub role: Role,
    /// Faction, for players.
    pub faction: Option<u32>,
}

/// Why a join was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The token was used before.
    #[error("join token was already used")]
    Replayed,
    /// No free player faction.
    #[error("every player seat is taken")]
    Full,
    /// Storage failed.
    #[error("the server could not record the join")]
    Internal,
}

/// What a (re)joining client is sent first.
#[derive(Debug, Clone)]
pub struct Welcome {
    /// The `Welcome` message.
    pub welcome: ServerMsg,
    /// Stored feed items after the client's last event id.
    pub backlog: Vec<ServerMsg>,
    /// Highest event id included.
    pub last_event_id: u64,
}

/// Status for `/status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EngineStatus {
    /// Completed ticks.
    pub tick: u64,
    /// State hash.
    pub state_hash: String,
    /// Clients online.
    pub players_online: u32,
    /// Commands logged.
    pub commands: u64,
    /// Changes since start (for "snapshot only when changed").
    pub changes: u64,
}

/// The engine: simulation, database and live feed.
pub struct Engine {
    sim: Sim,
    store: Store,
    meta: CampaignMeta,
    players: u32,
    live: broadcast::Sender<Arc<ServerMsg>>,
    narration: Option<mpsc::Sender<(u64, Vec<GameEvent>)>>,
    narrate_every: u64,
    pending_narration: Vec<GameEvent>,
    metrics: Metrics,
    accepting: bool,
    online: BTreeMap<String, u32>,
    changes: u64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("campaign", &self.meta.campaign_id)
            .field("tick", &self.sim.tick())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens a campaign: records (or checks) its metadata and replays its log.
    pub fn open(
        store: Store,
        meta: CampaignMeta,
        live: broadcast::Sender<Arc<ServerMsg>>,
        metrics: Metrics,
    ) -> Result<Engine, EngineError> {
        store.init_meta(&meta)?;
        let world = world_of(&meta)?;
        let players = u32::from(world.settings.players());
        let replayed = replay(&store, world)?;
        metrics.tick.set(replayed.sim.tick() as i64);
        Ok(Engine {
            sim: replayed.sim,
            store,
            meta,
            players,
            live,
            narration: None,
            narrate_every: 1,
            pending_narration: Vec::new(),
            metrics,
            accepting: true,
            online: BTreeMap::new(),
            changes: 0,
        })
    }

    /// Sends each tick's events (and those of the commands before it) to a
    /// narration worker, every `every` ticks. Never blocks: when the worker
    /// is behind, the job is dropped and counted.
    pub fn set_narration(&mut self, tx: mpsc::Sender<(u64, Vec<GameEvent>)>, every: u64) {
        self.narration = Some(tx);
        self.narrate_every = every.max(1);
    }

    /// The simulation.
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops taking commands and chat (draining).
    pub fn stop_accepting(&mut self) {
        self.accepting = false;
    }

    fn publish(&self, msg: ServerMsg) {
        // No subscribers is fine: nobody is connected.
        let _ = self.live.send(Arc::new(msg));
    }

    /// Logs, applies and commits one command; returns (seq, tick).
    pub fn command(
        &mut self,
        player: &str,
        faction: u32,
        command: &Command,
    ) -> Result<(u64, u64), CommandError> {
        let result = self.command_inner(player, faction, command);
        let label = match &result {
            Ok(_) => "ok".to_owned(),
            Err(e) => serde_json::to_value(e.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "error".into()),
        };
        self.metrics
            .commands
            .with_label_values(&[command.kind(), &label])
            .inc();
        result
    }

    fn command_inner(
        &mut self,
        player: &str,
        faction: u32,
        command: &Command,
    ) -> Result<(u64, u64), CommandError> {
        if !self.accepting {
            return Err(CommandError {
                code: ErrorCode::ShuttingDown,
                message: "the server is shutting down; reconnect shortly".into(),
            });
        }
        let internal = |e: StoreError| {
            tracing::error!(error = %e, "could not log a command");
            CommandError {
                code: ErrorCode::Internal,
                message: "the command could not be stored; it was not applied".into(),
            }
        };
        let tick = self.sim.tick();
        let tx = self
            .store
            .begin_command(tick, player, faction, command)
            .map_err(internal)?;
        let seq = tx.seq();
        // On refusal `tx` is dropped, which rolls the append back.
        let events = self.sim.apply(faction, command)?;
        let items: Vec<FeedItem> = events
            .iter()
            .map(|e| FeedItem::Event { event: e.clone() })
            .collect();
        match tx.commit(tick, &items) {
            Ok(ids) => {
                self.changes += 1;
                for ((id, item), event) in ids.into_iter().zip(items).zip(events) {
                    self.pending_narration.push(event);
                    self.publish(item.into_message(id, tick));
                }
                Ok((seq, tick))
            }
            Err(e) => {
                // The state moved but the log did not: rebuild from the log.
                let err = internal(e);
                self.rebuild();
                Err(err)
            }
        }
    }

    fn rebuild(&mut self) {
        match replay(&self.store, Arc::clone(self.sim.world())) {
            Ok(r) => self.sim = r.sim,
            Err(e) => {
                tracing::error!(error = %e, "could not rebuild state from the log; stopping");
                self.accepting = false;
            }
        }
    }

    /// Runs one tick and stores its hash and events. Returns (tick, hash).
    pub fn tick(&mut self) -> Result<(u64, String), EngineError> {
        let started = Instant::now();
        let events = self.sim.step();
        let tick = self.sim.tick();
        let hash = self.sim.hash();
        let items: Vec<FeedItem> = events
            .iter()
            .map(|e| FeedItem::Event { event: e.clone() })
            .collect();
        let ids = match self.store.record_tick(tick, &hash, &items) {
            Ok(ids) => ids,
            Err(e) => {
                // The tick is not durable: go back to the last stored state.
                tracing::error!(error = %e, tick, "could not store a tick");
                self.rebuild();
                return Err(e.into());
            }
        };
        self.changes += 1;
        for (id, item) in ids.into_iter().zip(items) {
            self.publish(item.into_message(id, tick));
        }
        self.publish(ServerMsg::Tick {
            tick,
            state_hash: hash.clone(),
        });
        self.pending_narration.extend(events);
        if tick.is_multiple_of(self.narrate_every) && !self.pending_narration.is_empty() {
            let events = std::mem::take(&mut self.pending_narration);
            if let Some(tx) = &self.narration
                && tx.try_send((tick, events)).is_err()
            {
                self.metrics.narration_dropped.inc();
            }
        }
        self.metrics.tick.set(tick as i64);
        self.metrics
            .tick_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok((tick, hash))
    }

    /// Stores and broadcasts a chat line; returns (event id, tick).
    pub fn chat(&mut self, seat: &Seat, text: &str) -> Result<(u64, u64), CommandError> {
        if !self.accepting {
            return Err(CommandError {
                code: ErrorCode::ShuttingDown,
                message: "the server is shutting down".into(),
            });
        }
        if seat.role == Role::Spectator {
            return Err(CommandError {
                code: ErrorCode::Forbidden,
                message: "spectators cannot chat".into(),
            });
        }
        let text = text.trim();
        let n = text.chars().count();
        if n == 0 || n > MAX_MESSAGE_CHARS {
            return Err(CommandError {
                code: ErrorCode::InvalidAmount,
                message: format!("a chat line has 1 to {MAX_MESSAGE_CHARS} characters"),
            });
        }
        let tick = self.sim.tick();
        let item = FeedItem::Chat {
            from: seat.player.clone(),
            faction: seat.faction,
            text: text.to_owned(),
        };
        let id = self
            .store
            .append_chat(tick, &seat.player, &item, text)
            .map_err(|e| {
                tracing::error!(error = %e, "could not store chat");
                CommandError {
                    code: ErrorCode::Internal,
                    message: "the chat line could not be stored".into(),
                }
            })?;
        self.changes += 1;
        self.publish(item.into_message(id, tick));
        Ok((id, tick))
    }

    /// Stores and broadcasts narration.
    pub fn narration(&mut self, tick: u64, n: &Narration) {
        match self
            .store
            .append_narration(tick, &n.narrator, n.tokens, &n.text)
        {
            Ok(id) => {
                self.changes += 1;
                self.publish(
                    FeedItem::Narration {
                        text: n.text.clone(),
                        narrator: n.narrator.clone(),
                    }
                    .into_message(id, tick),
                );
            }
            Err(e) => tracing::error!(error = %e, "could not store narration"),
        }
    }

    /// Admits a verified token holder: refuses a replayed token, seats a
    /// new player in a free faction, and announces their presence.
    pub fn join(&mut self, claims: &JoinClaims, now: u64) -> Result<Seat, JoinError> {
        let internal = |e: StoreError| {
            tracing::error!(error = %e, "could not record a join");
            JoinError::Internal
        };
        if !self
            .store
            .use_token(&claims.jti, claims.exp, now)
            .map_err(internal)?
        {
            return Err(JoinError::Replayed);
        }
        let faction = match claims.role {
            Role::Player => Some(
                self.store
                    .seat(&claims.sub, self.players)
                    .map_err(internal)?
                    .ok_or(JoinError::Full)?,
            ),
            Role::Gm | Role::Spectator => None,
        };
        *self.online.entry(claims.sub.clone()).or_default() += 1;
        self.presence(&claims.sub, true);
        Ok(Seat {
            player: claims.sub.clone(),
            role: claims.role,
            faction,
        })
    }

    /// Marks a connection closed.
    pub fn leave(&mut self, player: &str) {
        if let Some(n) = self.online.get_mut(player) {
            *n -= 1;
            if *n == 0 {
                self.online.remove(player);
            }
        }
        self.presence(player, false);
    }

    fn presence(&self, player: &str, online: bool) {
        let count: u32 = self.online.values().sum();
        self.metrics.players_online.set(i64::from(count));
        self.publish(ServerMsg::Presence {
            player: player.to_owned(),
            online,
            online_count: count,
        });
    }

    /// The welcome for a (re)joining client and the feed after `last_event_id`.
    pub fn welcome(&self, seat: &Seat, last_event_id: Option<u64>) -> Result<Welcome, EngineError> {
        let newest = self.store.last_feed_id()?;
        let mut backlog = Vec::new();
        let mut last = newest;
        if let Some(after) = last_event_id {
            // A client further behind than MAX_BACKLOG gets the newest items;
            // the state in the welcome already reflects the older ones.
            let after = after.max(newest.saturating_sub(u64::from(MAX_BACKLOG)));
            let items = self.store.feed_since(after, MAX_BACKLOG)?;
            if let Some(l) = items.last() {
                last = l.id;
            } else {
                last = after.min(newest);
            }
            backlog = items
                .into_iter()
                .map(|f| f.item.into_message(f.id, f.tick))
                .collect();
        }
        let state = serde_json::to_value(self.sim.state())
            .map_err(|e| EngineError::Store(StoreError::Corrupt(e.to_string())))?;
        Ok(Welcome {
            welcome: ServerMsg::Welcome {
                version: crate::protocol::PROTOCOL_VERSION,
                campaign: self.meta.campaign_id.clone(),
                player: seat.player.clone(),
                role: seat.role,
                faction: seat.faction,
                tick: self.sim.tick(),
                state_hash: self.sim.hash(),
                last_event_id: last,
                state,
            },
            backlog,
            last_event_id: last,
        })
    }

    /// Status for operators.
    pub fn status(&self) -> EngineStatus {
        EngineStatus {
            tick: self.sim.tick(),
            state_hash: self.sim.hash(),
            players_online: self.online.values().sum(),
            commands: self.store.last_seq().unwrap_or(0),
            changes: self.changes,
        }
    }
}

type Job = Box<dyn FnOnce(&mut Engine) + Send>;

/// Async access to an engine running on its own thread.
#[derive(Clone, Debug)]
pub struct EngineHandle {
    tx: mpsc::Sender<Job>,
}

impl EngineHandle {
    /// Moves the engine to a new thread.
    pub fn spawn(mut engine: Engine) -> EngineHandle {
        let (tx, mut rx) = mpsc::channel::<Job>(4096);
        let spawned = std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    job(&mut engine);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the engine thread");
        }
        EngineHandle { tx }
    }

    /// Runs `f` on the engine and returns its result.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine) -> R + Send + 'static,
    ) -> Result<R, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Box::new(move |e| {
                let _ = tx.send(f(e));
            }))
            .await
            .map_err(|_| EngineError::Gone)?;
        rx.await.map_err(|_| EngineError::Gone)
    }
}

/// Random command generation for tests and measurements: a mix of valid
/// and invalid commands over a world's real ids.
pub mod random {
    use rand_chacha::ChaCha8Rng;
    use rand_core::{Rng as _, SeedableRng};

    use crate::protocol::{Command, Field, Stock, TreatyKind};
    use crate::sim::Sim;

    /// A seeded generator of plausible commands.
    #[derive(Debug)]
    pub struct CommandGen {
        rng: ChaCha8Rng,
    }

    impl CommandGen {
        /// A generator for this seed.
        pub fn new(seed: u64) -> CommandGen {
            CommandGen {
                rng: ChaCha8Rng::seed_from_u64(seed),
            }
        }

        fn below(&mut self, n: u32) -> u32 {
            if n == 0 { 0 } else { self.rng.next_u32() % n }
        }

        /// A random (faction, command) for the players of `sim`.
        pub fn next(&mut self, sim: &Sim, players: u32) -> (u32, Command) {
            let state = sim.state();
            let faction = self.below(players.max(1));
            let systems = state.systems.len() as u32;
            let factions = state.factions.len() as u32;
            let own_fleets: Vec<u32> = state
                .fleets
                .iter()
                .filter(|f| f.owner == faction)
                .map(|f| f.id)
                .collect();
            let fleet = if own_fleets.is_empty() || self.below(10) == 0 {
                self.below(state.next_fleet + 2)
            } else {
                own_fleets[self.below(own_fleets.len() as u32) as usize]
            };
            let fleet_at = state
                .fleets
                .iter()
                .find(|f| f.id == fleet)
                .map(|f| f.at)
                .unwrap_or(0);
            let own_systems: Vec<u32> = state
                .systems
                .iter()
                .enumerate()
                .filter(|(_, s)| s.owner == Some(faction))
                .map(|(i, _)| i as u32)
                .collect();
            let own_system = if own_systems.is_empty() {
                self.below(systems)
            } else {
                own_systems[self.below(own_systems.len() as u32) as usize]
            };
            let amount = |g: &mut Self| Stock {
                minerals: u64::from(g.below(30)),
                energy: u64::from(g.below(30)),
                food: u64::from(g.below(30)),
                exotics: 0,
            };
            let treaty = match self.below(3) {
                0 => TreatyKind::Peace,
                1 => TreatyKind::Trade,
                _ => TreatyKind::Alliance,
            };
            let command = match self.below(12) {
                0 => Command::MoveFleet {
                    fleet,
                    to: self.below(systems + 1),
                },
                1 => Command::BuildShips {
                    system: own_system,
                    count: self.below(4) + 1,
                },
                2 => Command::BuildOutpost { system: fleet_at },
                3 => Command::Colonise {
                    system: own_system,
                    planet: self.below(5),
                },
                4 => Command::Research {
                    field: match self.below(3) {
                        0 => Field::Weapons,
                        1 => Field::Propulsion,
                        _ => Field::Industry,
                    },
                },
                5 => Command::ProposeTreaty {
                    to: self.below(factions),
                    treaty,
                },
                6 => Command::AcceptTreaty {
                    from: self.below(players.max(1)),
                },
                7 => Command::BreakTreaty {
                    with: self.below(factions),
                },
                8 => Command::Trade {
                    with: self.below(factions),
                    give: amount(self),
                    receive: amount(self),
                },
                9 => Command::AcceptTrade {
                    offer: self.below(state.next_offer + 1),
                },
                10 => Command::Attack {
                    fleet,
                    target: self.below(factions),
                },
                _ => Command::MessageNpc {
                    character: self.below(40),
                    text: "Greetings from afar.".into(),
                },
            };
            (faction, command)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use campaign_gen::Settings;

    fn meta(players: u8) -> CampaignMeta {
        CampaignMeta {
            campaign_id: "c-test".into(),
            seed: 11,
            settings: serde_json::to_value(Settings::builder().players(players).build().unwrap())
                .unwrap(),
            sim_version: crate::sim::SIM_VERSION,
        }
    }

    #[test]
    fn replaying_a_long_random_game_reproduces_the_live_hash() {
        let (live, _) = broadcast::channel(16);
        let mut engine = Engine::open(
            Store::open_in_memory().unwrap(),
            meta(6),
            live,
            Metrics::new(),
        )
        .unwrap();
        let mut cmds = random::CommandGen::new(5);
        let (mut ok, mut refused) = (0, 0);
        for _ in 0..1500 {
            for _ in 0..4 {
                let (faction, cmd) = cmds.next(engine.sim(), 6);
                match engine.command("p", faction, &cmd) {
                    Ok(_) => ok += 1,
                    Err(_) => refused += 1,
                }
            }
            engine.tick().unwrap();
        }
        assert!(ok > 1000 && refused > 500, "ok {ok}, refused {refused}");
        let live_hash = engine.sim().hash();
        let replayed = replay(engine.store(), Arc::clone(engine.sim().world())).unwrap();
        assert_eq!(replayed.sim.hash(), live_hash);
        assert_eq!(replayed.ticks, 1500);
        assert_eq!(replayed.commands, ok);
    }

    #[test]
    fn a_database_of_another_campaign_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("game.db");
        let (live, _) = broadcast::channel(16);
        drop(
            Engine::open(
                Store::open(&path).unwrap(),
                meta(2),
                live.clone(),
                Metrics::new(),
            )
            .unwrap(),
        );
        let mut other = meta(2);
        other.seed = 12;
        let err =
            Engine::open(Store::open(&path).unwrap(), other, live, Metrics::new()).unwrap_err();
        assert!(err.to_string().contains("belongs to"), "{err}");
    }

    #[test]
    fn a_tampered_tick_hash_is_reported_as_divergence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("game.db");
        let (live, _) = broadcast::channel(16);
        let mut e = Engine::open(
            Store::open(&path).unwrap(),
            meta(2),
            live.clone(),
            Metrics::new(),
        )
        .unwrap();
        for _ in 0..5 {
            e.tick().unwrap();
        }
        drop(e);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("UPDATE ticks SET state_hash = 'bad' WHERE tick = 3", [])
            .unwrap();
        drop(conn);
        let err =
            Engine::open(Store::open(&path).unwrap(), meta(2), live, Metrics::new()).unwrap_err();
        assert!(
            matches!(err, EngineError::Diverged { tick: 3, .. }),
            "{err}"
        );
    }
}
