//! Campaign state in SQLite: the command log, per-tick state hashes, the
//! event feed (events, chat, narration), used join-token ids and campaign
//! metadata.
//!
//! The database runs in WAL mode with `synchronous = FULL`, so a committed
//! command survives a crash of the process or the machine. Migrations are
//! embedded and numbered by `PRAGMA user_version`; a database written by a
//! newer schema is refused.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::protocol::{Command, FeedItem};

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = 1;

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE commands (
        seq INTEGER PRIMARY KEY,
        tick INTEGER NOT NULL,
        player TEXT NOT NULL,
        faction INTEGER NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        received_at TEXT NOT NULL);
     CREATE INDEX commands_tick ON commands (tick, seq);
     CREATE TABLE ticks (tick INTEGER PRIMARY KEY, state_hash TEXT NOT NULL);
     CREATE TABLE feed (id INTEGER PRIMARY KEY, tick INTEGER NOT NULL, body TEXT NOT NULL);
     CREATE TABLE chat (
        id INTEGER PRIMARY KEY,
        feed_id INTEGER NOT NULL REFERENCES feed (id),
        tick INTEGER NOT NULL,
        player TEXT NOT NULL,
        text TEXT NOT NULL,
        sent_at TEXT NOT NULL);
     CREATE TABLE narration (
        id INTEGER PRIMARY KEY,
        feed_id INTEGER NOT NULL REFERENCES feed (id),
        tick INTEGER NOT NULL,
        narrator TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        text TEXT NOT NULL);
     CREATE TABLE seats (player TEXT PRIMARY KEY, faction INTEGER NOT NULL UNIQUE);
     CREATE TABLE used_tokens (jti TEXT PRIMARY KEY, exp INTEGER NOT NULL);",
];

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer release.
    #[error(
        "database schema version {found} is newer than this server's {supported}; \
         run a newer game-server"
    )]
    SchemaTooNew {
        /// Version in the file.
        found: u32,
        /// Newest version this build knows.
        supported: u32,
    },
    /// Stored data could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The database belongs to another campaign.
    #[error("database belongs to {0}")]
    Mismatch(String),
}

/// The campaign a database belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignMeta {
    /// Campaign id.
    pub campaign_id: String,
    /// World seed.
    pub seed: u64,
    /// Settings JSON (campaign-gen `Settings`).
    pub settings: serde_json::Value,
    /// Simulation rules version.
    pub sim_version: u32,
}

/// A stored command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedCommand {
    /// Log position.
    pub seq: u64,
    /// The tick (completed ticks) when it was applied.
    pub tick: u64,
    /// Issuing player.
    pub player: String,
    /// Acting faction.
    pub faction: u32,
    /// The command.
    pub command: Command,
}

/// A stored feed item.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFeed {
    /// Event id.
    pub id: u64,
    /// Tick.
    pub tick: u64,
    /// The item.
    pub item: FeedItem,
}

/// An open campaign database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        Self::setup(conn)
    }

    /// Opens an in-memory database (tests and replays).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Self::setup(Connection::open_in_memory()?)
    }

    /// Opens an existing database read-only, checking its schema version.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found < SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "schema version {found}, expected {SCHEMA_VERSION}"
            )));
        }
        Ok(Store { conn })
    }

    fn setup(mut conn: Connection) -> Result<Store, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        // journal_mode answers with a row, so it is queried, not executed.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (n + 1) as u32)?;
            tx.commit()?;
        }
        Ok(Store { conn })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// The campaign this database holds, if it was initialised.
    pub fn meta(&self) -> Result<Option<CampaignMeta>, StoreError> {
        let v: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'campaign'", [], |r| {
                r.get(0)
            })
            .optional()?;
        v.map(|v| serde_json::from_str(&v).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    /// Records the campaign, or checks it matches the one recorded.
    pub fn init_meta(&self, meta: &CampaignMeta) -> Result<(), StoreError> {
        match self.meta()? {
            Some(existing) if existing == *meta => Ok(()),
            Some(existing) => Err(StoreError::Mismatch(format!(
                "campaign {:?} (seed {}), not {:?} (seed {})",
                existing.campaign_id, existing.seed, meta.campaign_id, meta.seed
            ))),
            None => {
                let text =
                    serde_json::to_string(meta).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                self.conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('campaign', ?1)",
                    params![text],
                )?;
                Ok(())
            }
        }
    }

    /// Starts a transaction for appending one command; see [`CommandTx`].
    pub fn begin_command(
        &mut self,
        tick: u64,
        player: &str,
        faction: u32,
        command: &Command,
    ) -> Result<CommandTx<'_>, StoreError> {
        let body =
            serde_json::to_string(command).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO commands (tick, player, faction, kind, body, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![i(tick), player, faction, command.kind(), body, now()],
        )?;
        let seq = u(tx.last_insert_rowid());
        Ok(CommandTx { tx, seq })
    }

    /// Stores a completed tick: its state hash and the feed items it made.
    /// Returns the feed ids.
    pub fn record_tick(
        &mut self,
        tick: u64,
        state_hash: &str,
        items: &[FeedItem],
    ) -> Result<Vec<u64>, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO ticks (tick, state_hash) VALUES (?1, ?2)",
            params![i(tick), state_hash],
        )?;
        let ids = insert_feed(&tx, tick, items)?;
        tx.commit()?;
        Ok(ids)
    }

    /// Appends feed items outside a tick (command results). Returns the ids.
    pub fn append_feed(&mut self, tick: u64, items: &[FeedItem]) -> Result<Vec<u64>, StoreError> {
        let tx = self.conn.transaction()?;
        let ids = insert_feed(&tx, tick, items)?;
        tx.commit()?;
        Ok(ids)
    }

    /// Stores a chat line in the chat table and the feed.
    pub fn append_chat(
        &mut self,
        tick: u64,
        player: &str,
        item: &FeedItem,
        text: &str,
    ) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        let ids = insert_feed(&tx, tick, std::slice::from_ref(item))?;
        let id = ids.first().copied().unwrap_or(0);
        tx.execute(
            "INSERT INTO chat (feed_id, tick, player, text, sent_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![i(id), i(tick), player, text, now()],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Stores narration in the narration table and the feed.
    pub fn append_narration(
        &mut self,
        tick: u64,
        narrator: &str,
        tokens: u64,
        text: &str,
    ) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        let item = FeedItem::Narration {
            text: text.to_owned(),
            narrator: narrator.to_owned(),
        };
        let ids = insert_feed(&tx, tick, std::slice::from_ref(&item))?;
        let id = ids.first().copied().unwrap_or(0);
        tx.execute(
            "INSERT INTO narration (feed_id, tick, narrator, tokens, text) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![i(id), i(tick), narrator, i(tokens), text],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Narration tokens spent so far, by the provider's count.
    pub fn narration_tokens(&self) -> Result<u64, StoreError> {
        let v: i64 =
            self.conn
                .query_row("SELECT COALESCE(SUM(tokens), 0) FROM narration", [], |r| {
                    r.get(0)
                })?;
        Ok(u(v))
    }

    /// Feed items after `after`, oldest first, at most `limit`.
    pub fn feed_since(&self, after: u64, limit: u32) -> Result<Vec<StoredFeed>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, tick, body FROM feed WHERE id > ?1 ORDER BY id LIMIT ?2")?;
        let rows = stmt.query_map(params![i(after), limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, tick, body) = row?;
            let item =
                serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            out.push(StoredFeed {
                id: u(id),
                tick: u(tick),
                item,
            });
        }
        Ok(out)
    }

    /// The newest feed id (0 when empty).
    pub fn last_feed_id(&self) -> Result<u64, StoreError> {
        let v: i64 = self
            .conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM feed", [], |r| r.get(0))?;
        Ok(u(v))
    }

    /// The newest command seq (0 when empty).
    pub fn last_seq(&self) -> Result<u64, StoreError> {
        let v: i64 =
            self.conn
                .query_row("SELECT COALESCE(MAX(seq), 0) FROM commands", [], |r| {
                    r.get(0)
                })?;
        Ok(u(v))
    }

    /// The whole command log in order.
    pub fn commands(&self) -> Result<Vec<LoggedCommand>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, tick, player, faction, body FROM commands ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, tick, player, faction, body) = row?;
            let command = serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt(format!("command {seq}: {e}")))?;
            out.push(LoggedCommand {
                seq: u(seq),
                tick: u(tick),
                player,
                faction,
                command,
            });
        }
        Ok(out)
    }

    /// Every stored tick hash, in order.
    pub fn tick_hashes(&self) -> Result<Vec<(u64, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT tick, state_hash FROM ticks ORDER BY tick")?;
        let rows = stmt.query_map([], |r| Ok((u(r.get::<_, i64>(0)?), r.get::<_, String>(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The faction seated for a player, seating them in the first free
    /// player faction (`0..players`) when new. `None` when all are taken.
    pub fn seat(&mut self, player: &str, players: u32) -> Result<Option<u32>, StoreError> {
        let tx = self.conn.transaction()?;
        let existing: Option<u32> = tx
            .query_row(
                "SELECT faction FROM seats WHERE player = ?1",
                params![player],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(f) = existing {
            return Ok(Some(f));
        }
        let taken: Vec<u32> = {
            let mut stmt = tx.prepare("SELECT faction FROM seats ORDER BY faction")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let Some(free) = (0..players).find(|f| !taken.contains(f)) else {
            return Ok(None);
        };
        tx.execute(
            "INSERT INTO seats (player, faction) VALUES (?1, ?2)",
            params![player, free],
        )?;
        tx.commit()?;
        Ok(Some(free))
    }

    /// Records a join-token id; `false` when it was used before.
    pub fn use_token(&mut self, jti: &str, exp: u64, now: u64) -> Result<bool, StoreError> {
        self.conn.execute(
            "DELETE FROM used_tokens WHERE exp < ?1",
            params![i(now.saturating_sub(3600))],
        )?;
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO used_tokens (jti, exp) VALUES (?1, ?2)",
            params![jti, i(exp)],
        )?;
        Ok(n == 1)
    }
}

fn insert_feed(
    tx: &rusqlite::Transaction<'_>,
    tick: u64,
    items: &[FeedItem],
) -> Result<Vec<u64>, StoreError> {
    let mut ids = Vec::with_capacity(items.len());
    let mut stmt = tx.prepare_cached("INSERT INTO feed (tick, body) VALUES (?1, ?2)")?;
    for item in items {
        let body = serde_json::to_string(item).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        stmt.execute(params![i(tick), body])?;
        ids.push(u(tx.last_insert_rowid()));
    }
    Ok(ids)
}

/// An open transaction holding one appended command: commit it only once
/// the command applied; dropping it rolls the append back.
pub struct CommandTx<'a> {
    tx: rusqlite::Transaction<'a>,
    seq: u64,
}

impl CommandTx<'_> {
    /// The command's log position.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Stores the command's feed items and commits. Returns the feed ids.
    pub fn commit(self, tick: u64, items: &[FeedItem]) -> Result<Vec<u64>, StoreError> {
        let ids = insert_feed(&self.tx, tick, items)?;
        self.tx.commit()?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_from_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("game.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
        assert!(err.to_string().contains("newer"));
    }

    #[test]
    fn a_rolled_back_command_leaves_no_trace() {
        let mut store = Store::open_in_memory().unwrap();
        let cmd = Command::BuildOutpost { system: 1 };
        {
            let tx = store.begin_command(0, "p", 0, &cmd).unwrap();
            assert_eq!(tx.seq(), 1);
        }
        assert!(store.commands().unwrap().is_empty());
        let tx = store.begin_command(0, "p", 0, &cmd).unwrap();
        tx.commit(0, &[]).unwrap();
        assert_eq!(store.commands().unwrap().len(), 1);
    }

    #[test]
    fn a_token_id_is_used_only_once() {
        let mut store = Store::open_in_memory().unwrap();
        assert!(store.use_token("a", 100, 50).unwrap());
        assert!(!store.use_token("a", 100, 50).unwrap());
    }

    #[test]
    fn players_are_seated_in_free_factions_until_full() {
        let mut store = Store::open_in_memory().unwrap();
        assert_eq!(store.seat("a", 2).unwrap(), Some(0));
        assert_eq!(store.seat("b", 2).unwrap(), Some(1));
        assert_eq!(store.seat("a", 2).unwrap(), Some(0));
        assert_eq!(store.seat("c", 2).unwrap(), None);
    }
}
