//! Join views read in batches. Every join reads what it decides on (the
//! campaign, the caller's standing, the joiners' seats and blocks) in one
//! query, and under a rush those queries, one round trip and one
//! statement's overhead each, were the largest cost joins put on the
//! database. Views asked for while others are being read go together into
//! the next query, which reads them all at once; each keeps its own
//! answer.
//!
//! Nothing waits for a batch to fill: a view asked for while fewer than
//! [`IN_FLIGHT`] queries run is read at once, alone. The reading runs in
//! its own task, so a request that goes away mid-read takes nobody else's
//! answer with it.

use std::sync::Arc;

use sqlx::AnyPool;
use sqlx::Row;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::accounts::Standing;
use super::campaigns::{COLUMNS, CampaignRow, campaign};
use super::{Store, StoreError};

/// At most this many views share one query (with parties of up to eight,
/// well under either backend's limit on bound values).
const MAX_BATCH: usize = 64;

/// At most this many batch queries run at once; more views wait for the
/// next batch.
pub(crate) const IN_FLIGHT: usize = 2;

/// What [`Store::join_view`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinView {
    /// The campaign.
    pub campaign: CampaignRow,
    /// A joiner already holds a live seat there.
    pub any_seated: bool,
    /// A block stands between a joiner and the game master.
    pub gm_block: bool,
    /// A block stands between a joiner and someone seated.
    pub seat_block: bool,
    /// Some unpaid hold there has run out.
    pub lapsed_holds: bool,
    /// A joiner holds a live seat in another campaign (whose sessions may
    /// overlap this one's).
    pub seated_elsewhere: bool,
    /// The caller's account, `None` when it is gone.
    pub caller: Option<Standing>,
}

/// What reading a view gives: `None` when there is no such campaign.
type Viewed = Result<Option<JoinView>, StoreError>;

/// One view asked for.
#[derive(Debug)]
struct Ask {
    campaign: String,
    caller: String,
    members: Vec<String>,
    now: i64,
    reply: oneshot::Sender<Viewed>,
}

/// Where a store sends the views joins ask for.
#[derive(Debug, Clone)]
pub(crate) struct ViewQueue(mpsc::UnboundedSender<Ask>);

/// Starts the batch reader for `pool`, as a task of the current runtime
/// (the answers go to requests on it anyway). `pool` is best
/// [`IN_FLIGHT`] connections of the reader's own: queued behind other
/// reads for a shared pool's, every batch waited for the reads of the
/// requests it was about to answer, and on its own connections each batch
/// size stays prepared and planned. It stops once every store clone
/// holding the queue is gone.
pub(crate) fn start(pool: AnyPool) -> ViewQueue {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(pool, rx));
    ViewQueue(tx)
}

fn stopped() -> StoreError {
    StoreError::Corrupt("the join view reader stopped before answering".into())
}

impl Store {
    /// Everything a join decides on, read in one query (shared with the
    /// other joins of the moment): the campaign, the standing of the
    /// `caller`'s account, and whether any of `members` holds a live seat
    /// there, a block stands between a member and the game master or
    /// anyone seated, a member holds a live seat elsewhere, or unpaid holds
    /// have lapsed by `now`. `None` when there is no such campaign.
    pub async fn join_view(
        &self,
        campaign: &str,
        caller: &str,
        members: &[String],
        now: i64,
    ) -> Viewed {
        if members.is_empty() {
            return Ok(None);
        }
        let (reply, answer) = oneshot::channel();
        let ask = Ask {
            campaign: campaign.to_string(),
            caller: caller.to_string(),
            members: members.to_vec(),
            now,
            reply,
        };
        if self.views.0.send(ask).is_err() {
            return Err(stopped());
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

/// Reads batches of whatever is queued, until the queue closes.
async fn run(pool: AnyPool, mut rx: mpsc::UnboundedReceiver<Ask>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // A slot first: views asked for while every slot is busy join
        // this batch.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(a) => batch.push(a),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            answer(&pool, batch).await;
            drop(slot);
        });
    }
}

/// Reads one batch and answers each of its views.
async fn answer(pool: &AnyPool, batch: Vec<Ask>) {
    let started = std::time::Instant::now();
    let views = read(pool, &batch).await;
    tracing::debug!(
        views = batch.len(),
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "join views read"
    );
    match views {
        Ok(views) => {
            for (ask, view) in batch.into_iter().zip(views) {
                // A request that went away needs no answer.
                let _ = ask.reply.send(Ok(view));
            }
        }
        Err(e) if batch.len() == 1 => {
            if let Some(ask) = batch.into_iter().next() {
                let _ = ask.reply.send(Err(e));
            }
        }
        Err(e) => {
            // Read each alone, so each gets its own answer.
            tracing::warn!(error = %e, views = batch.len(), "reading a batch of join views failed; reading them one by one");
            for ask in batch {
                let one = read(pool, std::slice::from_ref(&ask))
                    .await
                    .map(|mut v| v.pop().flatten());
                let _ = ask.reply.send(one);
            }
        }
    }
}

/// How many rows a batch of `n` is read as: the next power of two. Each
/// batch size is a statement of its own to prepare and plan (on Postgres
/// the first few runs of each are planned for their values, at about a
/// millisecond each), so a few padded sizes cost less than every size.
fn padded(n: usize) -> usize {
    n.max(1).next_power_of_two()
}

/// The query reading a batch of `views` views of `members` members in all
/// (both padded): one row per view whose campaign exists, keyed by the
/// view's index in the batch (`join_k`). Values are bound in order: each
/// view's campaign, caller and time, then each member's view index and
/// account (see [`read`]).
fn batch_sql(views: usize, members: usize) -> String {
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    let mut joins = Vec::with_capacity(views);
    for k in 0..views {
        let (campaign, caller, at) = (next(), next(), next());
        joins.push(format!("({k}, {campaign}, {caller}, CAST({at} AS BIGINT))"));
    }
    let mut rows = Vec::with_capacity(members);
    for _ in 0..members {
        let (k, account) = (next(), next());
        rows.push(format!("(CAST({k} AS BIGINT), {account})"));
    }
    let (joins, rows) = (joins.join(", "), rows.join(", "));
    let flag = |cond: &str| format!("CAST(CASE WHEN EXISTS ({cond}) THEN 1 ELSE 0 END AS BIGINT)");
    // Each flag starts from the view's members (few) and walks indexes
    // from there, never from every seat of the campaign.
    let mine = "m.member_k = j.join_k";
    let live = "s.status IN ('held', 'confirmed')";
    // A member's seats elsewhere, walked from the member by index on
    // both backends. Counted rather than asked to exist: for EXISTS
    // Postgres plans for the first match, and with `<>` it expected one
    // soon in a scan of every live seat (a hash join), which in the usual
    // case of no match read them all (0.27 ms a view with 1,000 seats).
    // CROSS JOIN because SQLite keeps its order: left to itself it walked
    // every live seat by status and looked each up among the members
    // (0.16-0.26 ms a view); Postgres plans it as any join.
    let elsewhere = format!(
        "CAST(CASE WHEN (SELECT COUNT(*) FROM m CROSS JOIN seats s \
         WHERE s.account_id = m.member_id AND {mine} AND {live} AND s.campaign_id <> c.id) > 0 \
         THEN 1 ELSE 0 END AS BIGINT)"
    );
    format!(
        "WITH j(join_k, join_campaign, join_caller, join_at) AS (VALUES {joins}), \
         m(member_k, member_id) AS (VALUES {rows}) \
         SELECT CAST(j.join_k AS BIGINT) AS join_k, {COLUMNS}, {} AS any_seated, {} AS gm_block, \
         {} AS seat_block, {} AS lapsed, {} AS seated_elsewhere, \
         a.caller_role, a.caller_standing, a.caller_suspended_until \
         FROM j JOIN campaigns c ON c.id = j.join_campaign \
         LEFT JOIN (SELECT id AS caller_key, role AS caller_role, standing AS caller_standing, \
           suspended_until AS caller_suspended_until FROM accounts) AS a \
           ON a.caller_key = j.join_caller",
        flag(&format!(
            "SELECT 1 FROM m JOIN seats s ON s.account_id = m.member_id \
             WHERE {mine} AND s.campaign_id = c.id AND {live}"
        )),
        flag(&format!(
            "SELECT 1 FROM m JOIN blocks b ON b.blocker_id = c.gm_id AND b.blocked_id = m.member_id \
             WHERE {mine} \
             UNION ALL SELECT 1 FROM m JOIN blocks b ON b.blocked_id = c.gm_id \
             AND b.blocker_id = m.member_id WHERE {mine}"
        )),
        flag(&format!(
            "SELECT 1 FROM m JOIN blocks b ON b.blocker_id = m.member_id \
             JOIN seats s ON s.campaign_id = c.id AND s.account_id = b.blocked_id AND {live} \
             WHERE {mine} \
             UNION ALL SELECT 1 FROM m JOIN blocks b ON b.blocked_id = m.member_id \
             JOIN seats s ON s.campaign_id = c.id AND s.account_id = b.blocker_id AND {live} \
             WHERE {mine}"
        )),
        flag(
            "SELECT 1 FROM seats s WHERE s.campaign_id = c.id AND s.status = 'held' \
             AND s.hold_expires_at <= j.join_at"
        ),
        elsewhere,
    )
}

/// Reads `batch`'s views in one query, one answer per view in order. The
/// padding rows name no campaign (ids are never empty) and belong to no
/// view, so they read nothing.
async fn read(pool: &AnyPool, batch: &[Ask]) -> Result<Vec<Option<JoinView>>, StoreError> {
    let members: usize = batch.iter().map(|a| a.members.len()).sum();
    let (views, rows) = (padded(batch.len()), padded(members));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(batch_sql(views, rows)));
    for ask in batch {
        q = q.bind(&ask.campaign).bind(&ask.caller).bind(ask.now);
    }
    for _ in batch.len()..views {
        q = q.bind("").bind("").bind(0_i64);
    }
    for (k, ask) in batch.iter().enumerate() {
        let k = i64::try_from(k).unwrap_or(i64::MAX);
        for m in &ask.members {
            q = q.bind(k).bind(m);
        }
    }
    for _ in members..rows {
        q = q.bind(-1_i64).bind("");
    }
    let rows = q.fetch_all(pool).await?;
    let mut views: Vec<Option<JoinView>> = batch.iter().map(|_| None).collect();
    for r in &rows {
        let slot = usize::try_from(r.try_get::<i64, _>("join_k")?)
            .ok()
            .and_then(|k| views.get_mut(k))
            .ok_or_else(|| StoreError::Corrupt("a join view came back for no view".into()))?;
        *slot = Some(view(r)?);
    }
    Ok(views)
}

/// One view of the batch query's rows.
fn view(r: &sqlx::any::AnyRow) -> Result<JoinView, sqlx::Error> {
    let flag = |name: &str| -> Result<bool, sqlx::Error> { Ok(r.try_get::<i64, _>(name)? != 0) };
    Ok(JoinView {
        campaign: campaign(r)?,
        any_seated: flag("any_seated")?,
        gm_block: flag("gm_block")?,
        seat_block: flag("seat_block")?,
        lapsed_holds: flag("lapsed")?,
        seated_elsewhere: flag("seated_elsewhere")?,
        caller: r
            .try_get::<Option<String>, _>("caller_standing")?
            .map(|standing| -> Result<Standing, sqlx::Error> {
                Ok(Standing {
                    role: r.try_get("caller_role")?,
                    standing,
                    suspended_until: r.try_get("caller_suspended_until")?,
                })
            })
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::{batch_sql, padded};

    #[test]
    fn batches_are_read_in_a_few_padded_sizes() {
        assert_eq!(
            (1..=9).map(padded).collect::<Vec<_>>(),
            [1, 2, 4, 4, 8, 8, 8, 8, 16]
        );
        assert_eq!(padded(0), 1);
        assert_eq!(padded(64), 64);
    }

    #[test]
    fn a_batch_binds_three_values_per_view_then_two_per_member() {
        let sql = batch_sql(2, 3);
        assert!(sql.contains("(0, $1, $2, CAST($3 AS BIGINT)), (1, $4, $5, CAST($6 AS BIGINT))"));
        assert!(sql.contains(
            "(CAST($7 AS BIGINT), $8), (CAST($9 AS BIGINT), $10), (CAST($11 AS BIGINT), $12)"
        ));
        assert!(!sql.contains("$13"));
    }
}
