//! The orchestrator's database: one set of migrations (`migrations/`) and one
//! set of portable queries that run on SQLite (the embedded default) and on
//! Postgres. Ids are made by the application, timestamps and money are
//! integers, so nothing depends on a backend's types or functions.

pub mod accounts;
pub mod billing;
pub mod campaigns;
pub mod group;
pub mod pricing;
pub mod safety;
pub mod seats;
pub mod social;
pub mod tickets;
pub mod views;

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, ConnectOptions, Row};

/// The migrations in the repository's `migrations/` folder.
static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, a file on this machine.
    Sqlite,
    /// Postgres.
    Postgres,
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no supported database.
    #[error("unsupported database URL (use sqlite://PATH or postgres://...)")]
    UnsupportedUrl,
    /// A unique constraint refused a write; holds the constraint's column if known.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The campaign no longer takes players; holds its status.
    #[error("the campaign is {0}; it takes no players")]
    Closed(String),
    /// Anything else from the database.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be read back.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The data folder for SQLite could not be made.
    #[error("cannot create the database folder: {0}")]
    Folder(#[from] std::io::Error),
}

impl StoreError {
    /// Maps unique-constraint violations to [`StoreError::Conflict`].
    pub(crate) fn from_write(e: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            let msg = db.message().to_ascii_lowercase();
            let column = ["email", "handle"]
                .into_iter()
                .find(|c| msg.contains(c))
                .unwrap_or("record");
            return StoreError::Conflict(column.to_string());
        }
        StoreError::Database(e)
    }
}

/// A connection pool and the backend it talks to.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Where joins' writes go to be committed together.
    group: group::GroupQueue,
    /// Where joins' views go to be read together.
    views: views::ViewQueue,
}

/// On SQLite, tables with fewer rows than this keep no planner statistics
/// (see [`Store::refresh_statistics`]).
const SMALL_TABLE_ROWS: i64 = 1_000;

impl Store {
    /// Connects to `url` (`sqlite://path/to/file.db` or `postgres://...`),
    /// creating a SQLite file and its folder when missing.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let mut url = url.to_string();
        if backend == Backend::Sqlite {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:")
                .split('?')
                .next()
                .unwrap_or_default()
                .to_string();
            if let Some(parent) = Path::new(&path).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)?;
            }
            if !url.contains("mode=") {
                url.push_str(if url.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
        }
        let options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        let max = match backend {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        };
        let pool = pool_options(backend, max, Plans::Chosen)
            .connect_with(options.clone())
            .await?;
        // Joins' group writer has a connection of its own: queued behind
        // hundreds of reads for one of the pool's, every group waited for
        // the reads of the joins it was about to answer. (An in-memory
        // SQLite database lives in one pool only.)
        // The join view reader has its own connections for the same reason.
        // Both connect now: the first joins of a rush otherwise waited for
        // the connections (a TLS handshake each, on Postgres) and the
        // group writer's first group took 100 ms.
        let (group_pool, view_pool) = if url.contains(":memory:") || url.contains("mode=memory") {
            (pool.clone(), pool.clone())
        } else {
            let readers = u32::try_from(views::IN_FLIGHT).unwrap_or(1);
            (
                pool_options(backend, 1, Plans::Generic)
                    .min_connections(1)
                    .connect_with(options.clone())
                    .await?,
                pool_options(backend, readers, Plans::Generic)
                    .min_connections(readers)
                    .connect_with(options)
                    .await?,
            )
        };
        let group = group::start(group_pool, backend == Backend::Postgres)?;
        let views = views::start(view_pool);
        Ok(Store {
            pool,
            backend,
            group,
            views,
        })
    }

    /// Applies every migration not yet applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Refreshes the query planner's statistics where they are out of
    /// date; returns how many tables were analysed where the backend says.
    /// SQLite never gathers them by itself, and a Postgres without
    /// autovacuum never does either: without them a listing over 10,000
    /// campaigns picked an index that reads every row of a date range, and
    /// on a young database plans cached while a table was nearly empty
    /// kept scanning all of it once it had grown (an analysed table's
    /// cached plans are made anew).
    pub async fn refresh_statistics(&self) -> Result<usize, StoreError> {
        match self.backend {
            Backend::Sqlite => {
                let mut tx = self.pool.begin().await?;
                // Analyse every table whose size changed much since the
                // last time (0x10000: not only those this connection has
                // read).
                sqlx::query("PRAGMA optimize = 0x10002")
                    .execute(&mut *tx)
                    .await?;
                // Without the per-value samples: with them SQLite compiles
                // a statement anew whenever a value bound to it changes,
                // which is every request (joins cost two thirds more CPU).
                // Table and index sizes are what the plans need. Done in
                // the analysis's transaction, so no connection loads the
                // samples in between.
                //
                // Nor the sizes of tables too small to matter. Taken while a
                // young database's tables were nearly empty, a one-row
                // table stayed one row to the planner until the analysis
                // after it had grown tenfold, up to five minutes on, and
                // meanwhile it read the whole table rather than its key:
                // every join read every account (about 35 us a join with
                // 1,000). Without sizes SQLite takes a table to be large
                // and uses its indexes. Each round analyses such tables
                // again, cheaply while they are small.
                let stats: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_schema WHERE name IN ('sqlite_stat1', 'sqlite_stat4')",
                )
                .fetch_all(&mut *tx)
                .await?;
                if stats.iter().any(|t| t == "sqlite_stat4") {
                    sqlx::query("DELETE FROM sqlite_stat4")
                        .execute(&mut *tx)
                        .await?;
                }
                if stats.iter().any(|t| t == "sqlite_stat1") {
                    // A row's `stat` starts with the table's row count.
                    sqlx::query("DELETE FROM sqlite_stat1 WHERE CAST(stat AS INTEGER) < $1")
                        .bind(SMALL_TABLE_ROWS)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(0)
            }
            Backend::Postgres => {
                // Autovacuum's own rule: 50 rows plus a tenth of the table
                // changed since the last analysis.
                let stale = sqlx::query(
                    "SELECT CAST(s.relname AS TEXT) AS relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
                     WHERE s.schemaname = current_schema() \
                     AND s.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0)",
                )
                .fetch_all(&self.pool)
                .await?;
                let mut analysed = 0;
                for row in stale {
                    let table: String = row.try_get("relname")?;
                    let sql = format!("ANALYZE \"{}\"", table.replace('"', "\"\""));
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&self.pool)
                        .await?;
                    analysed += 1;
                }
                Ok(analysed)
            }
        }
    }

    /// How often [`Store::refresh_statistics`] should run. Postgres keeps
    /// a statement's plan once it has run a few times, so plans made while
    /// a young database's tables were nearly empty are only made anew when
    /// those tables are analysed, and a round that finds nothing out of
    /// date is one catalogue read. Every 2 s: a campaign's seats fill in
    /// seconds, and at 10 s the joins of a fresh database scanned every
    /// seat (twice as many sequential scans of `seats`, a tenth more
    /// database CPU). On SQLite every analysis recompiles
    /// every cached statement of every connection and holds the write lock
    /// meanwhile, and its plans without fresh sizes stay sound.
    pub fn statistics_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(match self.backend {
            Backend::Sqlite => 300,
            Backend::Postgres => 2,
        })
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for the query modules.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// `$first, $first+1, ...`: `n` numbered bind markers, for an `IN (...)`
/// list or a row of values.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How Postgres plans a pool's prepared statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plans {
    /// As Postgres chooses: planned for each run's values at first, and
    /// for any values once that looks no worse. Range filters (listings by
    /// date or price) want plans made for their values.
    Chosen,
    /// Planned once for any values. For statements whose every lookup is
    /// by key, where planning for the values only costs time: the batched
    /// join view took longer to plan for its values than to run, and the
    /// group writer's read of waitlist positions was planned at every
    /// group (0.16 ms to bind, longer than it ran; 0.05 ms planned once).
    Generic,
}

/// Pool options for `max` connections of `backend`.
fn pool_options(backend: Backend, max: u32, plans: Plans) -> AnyPoolOptions {
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        // No ping before every use: on SQLite it is one more hand-off to
        // the connection's thread and back per query, on Postgres one more
        // round trip; a connection that broke fails its query and is
        // closed, and idle ones are retired by the pool anyway.
        .test_before_acquire(false);
    if backend != Backend::Sqlite {
        if plans == Plans::Chosen {
            return pool;
        }
        return pool.after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET plan_cache_mode = force_generic_plan")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        });
    }
    // Foreign keys and a busy timeout for every SQLite connection.
    pool.after_connect(|conn, _| {
        Box::pin(async move {
            sqlx::query("PRAGMA foreign_keys = ON")
                .execute(&mut *conn)
                .await?;
            sqlx::query("PRAGMA busy_timeout = 5000")
                .execute(&mut *conn)
                .await?;
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&mut *conn)
                .await?;
            // Reads map the file instead of copying pages through a small
            // per-connection cache: browsing 10,000 campaigns spent its
            // time in pread otherwise.
            sqlx::query("PRAGMA mmap_size = 268435456")
                .execute(&mut *conn)
                .await?;
            sqlx::query("PRAGMA cache_size = -16384")
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::{SMALL_TABLE_ROWS, Store};

    #[tokio::test]
    async fn sqlite_keeps_no_planner_statistics_for_tables_too_small_to_matter() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("stats.db").display());
        let store = Store::connect(&url).await.expect("store");
        for sql in [
            "CREATE TABLE small (id TEXT PRIMARY KEY)".to_string(),
            "INSERT INTO small (id) VALUES ('a'), ('b'), ('c')".to_string(),
            "CREATE TABLE big (id INTEGER PRIMARY KEY, k TEXT UNIQUE)".to_string(),
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {SMALL_TABLE_ROWS}) \
                 INSERT INTO big (id, k) SELECT i, 'k' || i FROM n"
            ),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(store.pool())
                .await
                .expect("setup");
        }
        store.refresh_statistics().await.expect("refresh");
        let kept: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT tbl FROM sqlite_stat1 WHERE tbl IN ('small', 'big') ORDER BY tbl",
        )
        .fetch_all(store.pool())
        .await
        .expect("statistics");
        assert_eq!(kept, ["big"]);
    }
}
