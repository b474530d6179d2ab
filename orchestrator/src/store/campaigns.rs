//! Queries for campaigns.

use sqlx::Row;

use super::{Store, StoreError};

/// A campaign row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignRow {
    /// Id.
    pub id: String,
    /// The game master.
    pub gm_id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Game mode.
    pub mode: String,
    /// campaign-gen settings, JSON.
    pub settings: String,
    /// Generator version, fixed at creation.
    pub generator_version: String,
    /// World seed (u64 as decimal text).
    pub seed: String,
    /// Narration tier.
    pub llm_tier: String,
    /// Fewest players to run.
    pub min_players: i64,
    /// Most players.
    pub max_players: i64,
    /// public or invite.
    pub visibility: String,
    /// Schedule spec, JSON.
    pub schedule: String,
    /// First session start, Unix ms.
    pub first_session_at: i64,
    /// Last session end, Unix ms.
    pub last_session_end: i64,
    /// Number of sessions.
    pub session_count: i64,
    /// Length of each session, minutes.
    pub session_minutes: i64,
    /// Seat price, minor units.
    pub price_minor: i64,
    /// Currency code.
    pub currency: String,
    /// The quote, JSON.
    pub quote: String,
    /// Lifecycle status.
    pub status: String,
    /// Seats held or sold.
    pub seats_taken: i64,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Published, Unix ms.
    pub published_at: Option<i64>,
    /// Bumped whenever the schedule, tier or price change.
    pub terms_version: i64,
    /// An operator's instruction for the game server (suspend, drain).
    pub server_override: Option<String>,
}

pub(super) const COLUMNS: &str = "id, gm_id, title, description, mode, settings, generator_version, seed, \
     llm_tier, min_players, max_players, visibility, schedule, first_session_at, last_session_end, \
     session_count, session_minutes, price_minor, currency, quote, status, seats_taken, created_at, \
     published_at, \
     terms_version, server_override";

pub(super) fn campaign(r: &sqlx::any::AnyRow) -> Result<CampaignRow, sqlx::Error> {
    Ok(CampaignRow {
        id: r.try_get("id")?,
        gm_id: r.try_get("gm_id")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        mode: r.try_get("mode")?,
        settings: r.try_get("settings")?,
        generator_version: r.try_get("generator_version")?,
        seed: r.try_get("seed")?,
        llm_tier: r.try_get("llm_tier")?,
        min_players: r.try_get("min_players")?,
        max_players: r.try_get("max_players")?,
        visibility: r.try_get("visibility")?,
        schedule: r.try_get("schedule")?,
        first_session_at: r.try_get("first_session_at")?,
        last_session_end: r.try_get("last_session_end")?,
        session_count: r.try_get("session_count")?,
        session_minutes: r.try_get("session_minutes")?,
        price_minor: r.try_get("price_minor")?,
        currency: r.try_get("currency")?,
        quote: r.try_get("quote")?,
        status: r.try_get("status")?,
        seats_taken: r.try_get("seats_taken")?,
        created_at: r.try_get("created_at")?,
        published_at: r.try_get("published_at")?,
        terms_version: r.try_get("terms_version")?,
        server_override: r.try_get("server_override")?,
    })
}

/// A campaign as listings show it: what players compare by, plus the
/// schedule for time filters (listings never read the heavy columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingRow {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Game mode.
    pub mode: String,
    /// Narration tier.
    pub llm_tier: String,
    /// Seat price, minor units.
    pub price_minor: i64,
    /// Currency code.
    pub currency: String,
    /// Most players.
    pub max_players: i64,
    /// Seats held or sold.
    pub seats_taken: i64,
    /// First session start, Unix ms.
    pub first_session_at: i64,
    /// Number of sessions.
    pub session_count: i64,
    /// Length of each session, minutes (0 on rows older than the column).
    pub session_minutes: i64,
    /// Lifecycle status.
    pub status: String,
    /// Schedule spec, JSON.
    pub schedule: String,
}

const LISTING_COLUMNS: &str = "id, title, mode, llm_tier, price_minor, currency, max_players, \
     seats_taken, first_session_at, session_count, session_minutes, status, schedule";

fn listing(r: &sqlx::any::AnyRow) -> Result<ListingRow, sqlx::Error> {
    Ok(ListingRow {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        mode: r.try_get("mode")?,
        llm_tier: r.try_get("llm_tier")?,
        price_minor: r.try_get("price_minor")?,
        currency: r.try_get("currency")?,
        max_players: r.try_get("max_players")?,
        seats_taken: r.try_get("seats_taken")?,
        first_session_at: r.try_get("first_session_at")?,
        session_count: r.try_get("session_count")?,
        session_minutes: r.try_get("session_minutes")?,
        status: r.try_get("status")?,
        schedule: r.try_get("schedule")?,
    })
}

/// Discovery filters (all optional) and paging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignFilter {
    /// Game mode.
    pub mode: Option<String>,
    /// Narration tier.
    pub tier: Option<String>,
    /// Lowest seat price, minor units.
    pub min_price: Option<i64>,
    /// Highest seat price, minor units.
    pub max_price: Option<i64>,
    /// Only campaigns with a seat left.
    pub seats_open: bool,
    /// First session at or after, Unix ms.
    pub starts_after: Option<i64>,
    /// First session before, Unix ms.
    pub starts_before: Option<i64>,
    /// A cheap necessary condition on the first session's local start,
    /// for listings filtered by weekday or time of day in a viewer's zone.
    pub first_start: Option<LocalStart>,
}

/// The first session must start, at one of the viewer zone's UTC offsets,
/// on one of `weekdays` and inside `window`. Exact checks of every session
/// follow in the listing; this only lets the database drop most rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalStart {
    /// The viewer zone's offsets from UTC in the coming year, ms.
    pub offsets_ms: Vec<i64>,
    /// Weekdays, Monday = 0.
    pub weekdays: Option<Vec<i64>>,
    /// Milliseconds of the day `(from, to)` the whole session must lie
    /// in, across midnight when `from > to`: its start at or after `from`
    /// (or, across midnight, already past midnight), its end (start plus
    /// length) by `to`.
    pub window_ms: Option<(i64, i64)>,
    /// How much later than its start plus its length a session may end on
    /// the viewer's wall clock (one that spans a clock change), ms: the
    /// window's end is checked this loosely.
    pub end_slack_ms: i64,
}

/// A bound value of a query built from optional filters.
enum Param {
    Text(String),
    Int(i64),
}

/// The campaigns discovery lists, as the partial indexes that serve it
/// are defined (migration `listed_campaign_indexes`).
const LISTED: &str = "status IN ('published', 'full') AND visibility = 'public'";

/// The order of a discovery listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignSort {
    /// Soonest first session first.
    Start,
    /// Cheapest first.
    Price,
    /// Most seats left first.
    SeatsLeft,
}

impl CampaignSort {
    /// Its name in the API (`sort=`).
    pub fn name(self) -> &'static str {
        match self {
            CampaignSort::Start => "start",
            CampaignSort::Price => "price",
            CampaignSort::SeatsLeft => "seats_left",
        }
    }

    /// The column expression listings are ordered by (then by id).
    fn expression(self) -> &'static str {
        match self {
            CampaignSort::Start => "first_session_at",
            CampaignSort::Price => "price_minor",
            CampaignSort::SeatsLeft => "(seats_taken - max_players)",
        }
    }

    /// A row's sort key, as paging cursors carry it.
    pub fn key(self, r: &ListingRow) -> i64 {
        match self {
            CampaignSort::Start => r.first_session_at,
            CampaignSort::Price => r.price_minor,
            CampaignSort::SeatsLeft => r.seats_taken - r.max_players,
        }
    }
}

impl Store {
    /// Stores a new campaign.
    pub async fn insert_campaign(&self, c: &CampaignRow, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO campaigns (id, gm_id, title, description, mode, settings, generator_version, \
             seed, llm_tier, min_players, max_players, visibility, schedule, first_session_at, \
             last_session_end, session_count, price_minor, currency, quote, status, seats_taken, \
             created_at, updated_at, session_minutes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, 0, $21, $21, $22)",
        )
        .bind(&c.id)
        .bind(&c.gm_id)
        .bind(&c.title)
        .bind(&c.description)
        .bind(&c.mode)
        .bind(&c.settings)
        .bind(&c.generator_version)
        .bind(&c.seed)
        .bind(&c.llm_tier)
        .bind(c.min_players)
        .bind(c.max_players)
        .bind(&c.visibility)
        .bind(&c.schedule)
        .bind(c.first_session_at)
        .bind(c.last_session_end)
        .bind(c.session_count)
        .bind(c.price_minor)
        .bind(&c.currency)
        .bind(&c.quote)
        .bind(&c.status)
        .bind(now)
        .bind(c.session_minutes)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Campaigns the session scheduler looks after at `now`: open or
    /// running ones whose first session starts before `horizon`.
    pub async fn scheduled_campaigns(&self, horizon: i64) -> Result<Vec<CampaignRow>, StoreError> {
        // The status condition is campaigns_scheduled's, word for word.
        let sql = format!(
            "SELECT {COLUMNS} FROM campaigns WHERE status IN ('published', 'full', 'running') \
             AND first_session_at <= $1 ORDER BY first_session_at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(horizon)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(campaign).collect::<Result<_, _>>()?)
    }

    /// Sets (or with `None` clears) the operator's instruction for a
    /// campaign's game server.
    pub async fn set_server_override(
        &self,
        id: &str,
        value: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE campaigns SET server_override = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(value)
                .bind(now)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A campaign by id.
    pub async fn campaign(&self, id: &str) -> Result<Option<CampaignRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM campaigns WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(campaign).transpose()?)
    }

    /// Moves a campaign from one status to another; false when it was not
    /// in `from` (a concurrent change won).
    pub async fn set_campaign_status(
        &self,
        id: &str,
        from: &str,
        to: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE campaigns SET status = $3, updated_at = $4, \
             published_at = CASE WHEN $3 = 'published' AND published_at IS NULL THEN $4 ELSE published_at END \
             WHERE id = $1 AND status = $2",
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Writes a game master's changes to a campaign that is still a draft,
    /// published or full, if its terms are still at `expected_terms`;
    /// `terms_changed` bumps the version. With `refund_offer_until`, every
    /// live seat gets that refund offer in the same transaction. False
    /// when a concurrent change won.
    pub async fn update_campaign(
        &self,
        c: &CampaignRow,
        expected_terms: i64,
        terms_changed: bool,
        refund_offer_until: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE campaigns SET title = $2, description = $3, schedule = $4, llm_tier = $5, \
             min_players = $6, first_session_at = $7, last_session_end = $8, session_count = $9, \
             price_minor = $10, currency = $11, quote = $12, terms_version = terms_version + $13, \
             updated_at = $14, session_minutes = $16 \
             WHERE id = $1 AND terms_version = $15 AND status IN ('draft', 'published', 'full')",
        )
        .bind(&c.id)
        .bind(&c.title)
        .bind(&c.description)
        .bind(&c.schedule)
        .bind(&c.llm_tier)
        .bind(c.min_players)
        .bind(c.first_session_at)
        .bind(c.last_session_end)
        .bind(c.session_count)
        .bind(c.price_minor)
        .bind(&c.currency)
        .bind(&c.quote)
        .bind(i64::from(terms_changed))
        .bind(now)
        .bind(expected_terms)
        .bind(c.session_minutes)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(until) = refund_offer_until {
            // An offer already open for longer stays as long.
            sqlx::query(
                "UPDATE seats SET refund_offer_until = CASE \
                   WHEN refund_offer_until IS NOT NULL AND refund_offer_until > $2 \
                   THEN refund_offer_until ELSE $2 END, updated_at = $3 \
                 WHERE campaign_id = $1 AND status IN ('held', 'confirmed')",
            )
            .bind(&c.id)
            .bind(until)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Sets (or replaces) a campaign's invite code hash.
    pub async fn set_invite_code(&self, id: &str, hash: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE campaigns SET invite_code_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(hash)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Whether `hash` is the campaign's current invite code hash.
    pub async fn invite_code_matches(&self, id: &str, hash: &str) -> Result<bool, StoreError> {
        let row =
            sqlx::query("SELECT 1 AS x FROM campaigns WHERE id = $1 AND invite_code_hash = $2")
                .bind(id)
                .bind(hash)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.is_some())
    }

    /// A game master's campaigns, newest first.
    pub async fn campaigns_of(&self, gm: &str) -> Result<Vec<CampaignRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM campaigns WHERE gm_id = $1 ORDER BY created_at DESC, id DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(gm)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(campaign).collect::<Result<_, _>>()?)
    }

    /// Public campaigns open to players (published, or full and taking
    /// waitlist places) matching `f`, in `sort` order, after the keyset
    /// `after` (the sort value and id of the previous page's last row), at
    /// most `limit`.
    pub async fn discover(
        &self,
        f: &CampaignFilter,
        sort: CampaignSort,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<ListingRow>, StoreError> {
        let key = sort.expression();
        // Only the filters given go into the statement, so the planner can
        // use the mode and tier indexes; every value is still a bound
        // parameter.
        // Word for word the condition of the `campaigns_listed_by_*`
        // partial indexes: SQLite uses one only when the query repeats it.
        let mut clauses = vec![LISTED.to_string()];
        // Values in the order of their `$n` placeholders.
        let mut params: Vec<Param> = Vec::new();
        let mut param = |p: Param| {
            params.push(p);
            format!("${}", params.len())
        };
        if let Some(m) = &f.mode {
            clauses.push(format!("mode = {}", param(Param::Text(m.clone()))));
        }
        if let Some(t) = &f.tier {
            clauses.push(format!("llm_tier = {}", param(Param::Text(t.clone()))));
        }
        if let Some(v) = f.min_price {
            clauses.push(format!("price_minor >= {}", param(Param::Int(v))));
        }
        if let Some(v) = f.max_price {
            clauses.push(format!("price_minor <= {}", param(Param::Int(v))));
        }
        if f.seats_open {
            // A full campaign has no seat left (only waitlist places).
            clauses.push("seats_taken < max_players".to_string());
        }
        if let Some(v) = f.starts_after {
            clauses.push(format!("first_session_at >= {}", param(Param::Int(v))));
        }
        if let Some(v) = f.starts_before {
            clauses.push(format!("first_session_at < {}", param(Param::Int(v))));
        }
        if let Some(ls) = &f.first_start {
            let mut alternatives = Vec::new();
            for &o in &ls.offsets_ms {
                let o = param(Param::Int(o));
                let mut parts = Vec::new();
                if let Some((from, to)) = ls.window_ms {
                    let start = format!("((first_session_at + {o}) % 86400000)");
                    let end = format!("{start} + session_minutes * 60000");
                    let by = to + ls.end_slack_ms;
                    if from < to {
                        let (from, by) = (param(Param::Int(from)), param(Param::Int(by)));
                        parts.push(format!("{start} >= {from} AND {end} <= {by}"));
                    } else {
                        // Inside the night that starts on its day, or in
                        // the end of the one that started the day before.
                        let (from, by_next, by) = (
                            param(Param::Int(from)),
                            param(Param::Int(86_400_000 + by)),
                            param(Param::Int(by)),
                        );
                        parts.push(format!(
                            "(({start} >= {from} AND {end} <= {by_next}) OR {end} <= {by})"
                        ));
                    }
                }
                if let Some(days) = &ls.weekdays {
                    // 1970-01-01 was a Thursday (Monday = 0 gives 3).
                    let list = days
                        .iter()
                        .map(|d| param(Param::Int(*d)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    parts.push(format!(
                        "(((first_session_at + {o}) / 86400000) + 3) % 7 IN ({list})"
                    ));
                }
                if !parts.is_empty() {
                    alternatives.push(format!("({})", parts.join(" AND ")));
                }
            }
            if !alternatives.is_empty() {
                clauses.push(format!("({})", alternatives.join(" OR ")));
            }
        }
        if let Some((k, id)) = after {
            let k = param(Param::Int(k));
            let id = param(Param::Text(id));
            clauses.push(format!("({key} > {k} OR ({key} = {k} AND id > {id}))"));
        }
        let limit = param(Param::Int(limit));
        let sql = format!(
            "SELECT {LISTING_COLUMNS} FROM campaigns WHERE {} ORDER BY {key}, id LIMIT {limit}",
            clauses.join(" AND ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for p in params {
            query = match p {
                Param::Text(t) => query.bind(t),
                Param::Int(i) => query.bind(i),
            };
        }
        let rows = query.fetch_all(self.pool()).await?;
        Ok(rows.iter().map(listing).collect::<Result<_, _>>()?)
    }

    /// Sets an account's calendar feed token (replacing any earlier one).
    pub async fn set_calendar_feed(
        &self,
        account: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM calendar_feeds WHERE account_id = $1")
            .bind(account)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO calendar_feeds (account_id, token_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(account)
        .bind(token_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes an account's calendar feed; false if it had none.
    pub async fn delete_calendar_feed(&self, account: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM calendar_feeds WHERE account_id = $1")
            .bind(account)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The account a calendar feed token belongs to.
    pub async fn calendar_feed_owner(
        &self,
        token_hash: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT account_id FROM calendar_feeds WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("account_id")).transpose()?)
    }

    /// Published public campaigns with a seat left whose first session is
    /// still ahead, soonest first.
    pub async fn open_campaigns(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<CampaignRow>, StoreError> {
        // The listing condition word for word (for its index, in start
        // order), then only the published ones.
        let sql = format!(
            "SELECT {COLUMNS} FROM campaigns WHERE {LISTED} AND status = 'published' \
             AND seats_taken < max_players AND first_session_at > $1 \
             ORDER BY first_session_at, id LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(campaign).collect::<Result<_, _>>()?)
    }

    /// The campaigns other than `except` in which `account` holds a live seat.
    pub async fn campaigns_seated_in(
        &self,
        account: &str,
        except: &str,
    ) -> Result<Vec<CampaignRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM campaigns WHERE id IN (SELECT campaign_id FROM seats \
             WHERE account_id = $1 AND status IN ('held', 'confirmed') AND campaign_id <> $2)"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account)
            .bind(except)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(campaign).collect::<Result<_, _>>()?)
    }
}
