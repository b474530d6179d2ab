//! Queries for seats and waitlists. Seat counts change only through
//! conditional updates inside the transaction that writes the seats, so
//! concurrent joins can never sell more seats than a campaign has, on
//! either database.

use sqlx::Row;

use super::campaigns::{COLUMNS, CampaignRow, campaign};
use super::{Store, StoreError};

/// A seat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeatRow {
    /// Id.
    pub id: String,
    /// The campaign.
    pub campaign_id: String,
    /// The player.
    pub account_id: String,
    /// The party it was taken with.
    pub party_id: Option<String>,
    /// held, confirmed or released.
    pub status: String,
    /// When a hold lapses, Unix ms.
    pub hold_expires_at: Option<i64>,
    /// Price paid, minor units.
    pub price_minor: i64,
    /// Currency.
    pub currency: String,
    /// The quote it was sold at, JSON.
    pub quote: String,
    /// test or stripe.
    pub provider: String,
    /// Refunded, minor units.
    pub refund_minor: i64,
    /// Until when leaving refunds in full because the campaign changed
    /// against the player, Unix ms.
    pub refund_offer_until: Option<i64>,
    /// Taken, Unix ms.
    pub created_at: i64,
    /// The order that pays for it.
    pub order_id: Option<String>,
}

/// A waitlist place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitRow {
    /// Id.
    pub id: String,
    /// The campaign.
    pub campaign_id: String,
    /// The player (a party's leader).
    pub account_id: String,
    /// The party.
    pub party_id: Option<String>,
    /// Seats wanted.
    pub size: i64,
    /// waiting, promoted or left.
    pub status: String,
    /// Joined, Unix ms.
    pub created_at: i64,
    /// Not promoted before this time (the payment provider could not
    /// start its last promotion), Unix ms.
    pub retry_at: Option<i64>,
}

const SEAT_COLUMNS: &str = "id, campaign_id, account_id, party_id, status, hold_expires_at, \
     price_minor, currency, quote, provider, refund_minor, refund_offer_until, created_at, order_id";

fn seat(r: &sqlx::any::AnyRow) -> Result<SeatRow, sqlx::Error> {
    Ok(SeatRow {
        id: r.try_get("id")?,
        campaign_id: r.try_get("campaign_id")?,
        account_id: r.try_get("account_id")?,
        party_id: r.try_get("party_id")?,
        status: r.try_get("status")?,
        hold_expires_at: r.try_get("hold_expires_at")?,
        price_minor: r.try_get("price_minor")?,
        currency: r.try_get("currency")?,
        quote: r.try_get("quote")?,
        provider: r.try_get("provider")?,
        refund_minor: r.try_get("refund_minor")?,
        refund_offer_until: r.try_get("refund_offer_until")?,
        created_at: r.try_get("created_at")?,
        order_id: r.try_get("order_id")?,
    })
}

fn wait(r: &sqlx::any::AnyRow) -> Result<WaitRow, sqlx::Error> {
    Ok(WaitRow {
        id: r.try_get("id")?,
        campaign_id: r.try_get("campaign_id")?,
        account_id: r.try_get("account_id")?,
        party_id: r.try_get("party_id")?,
        size: r.try_get("size")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        retry_at: r.try_get("retry_at")?,
    })
}

impl Store {
    /// A player's live (held or confirmed) seat in a campaign.
    pub async fn live_seat(
        &self,
        campaign: &str,
        account: &str,
    ) -> Result<Option<SeatRow>, StoreError> {
        let sql = format!(
            "SELECT {SEAT_COLUMNS} FROM seats WHERE campaign_id = $1 AND account_id = $2 \
             AND status IN ('held', 'confirmed')"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(campaign)
            .bind(account)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(seat).transpose()?)
    }

    /// Live seats of a campaign, oldest first.
    pub async fn live_seats(&self, campaign: &str) -> Result<Vec<SeatRow>, StoreError> {
        self.live_seats_where("campaign_id", campaign).await
    }

    /// An account's live seats in any campaign.
    pub async fn seats_of(&self, account: &str) -> Result<Vec<SeatRow>, StoreError> {
        self.live_seats_where("account_id", account).await
    }

    /// Live seats whose `column` (a fixed name, never input) is `value`,
    /// oldest first.
    async fn live_seats_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Vec<SeatRow>, StoreError> {
        let sql = format!(
            "SELECT {SEAT_COLUMNS} FROM seats WHERE {column} = $1 \
             AND status IN ('held', 'confirmed') ORDER BY created_at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(value)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(seat).collect::<Result<_, _>>()?)
    }

    /// Every seat an order paid for, whatever became of it.
    pub async fn order_seats(&self, order_id: &str) -> Result<Vec<SeatRow>, StoreError> {
        let sql =
            format!("SELECT {SEAT_COLUMNS} FROM seats WHERE order_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(order_id)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(seat).collect::<Result<_, _>>()?)
    }

    /// Confirms a held seat (payment arrived); false if it was not held.
    pub async fn confirm_seat(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE seats SET status = 'confirmed', hold_expires_at = NULL, confirmed_at = $2, \
             updated_at = $2 WHERE id = $1 AND status = 'held'",
        )
        .bind(id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A seat's status now, and whether it was ever confirmed (paid).
    pub async fn seat_state(&self, id: &str) -> Result<Option<(String, bool)>, StoreError> {
        let row = sqlx::query("SELECT status, confirmed_at FROM seats WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        let confirmed_at: Option<i64> = r.try_get("confirmed_at")?;
        Ok(Some((r.try_get("status")?, confirmed_at.is_some())))
    }

    /// Releases a live seat with a refund, giving its place back to the
    /// campaign (a full campaign opens again). False if it was not live.
    pub async fn release_seat(
        &self,
        id: &str,
        refund_minor: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.release_where(id, refund_minor, now, "status IN ('held', 'confirmed')")
            .await
    }

    /// Releases a seat with a refund worked out for it as `status` (held
    /// or confirmed): false if it is no longer so (paid, or released,
    /// since it was read), so no paid seat goes for an unpaid one's refund.
    pub async fn release_seat_as(
        &self,
        id: &str,
        status: &str,
        refund_minor: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let condition = match status {
            "held" => "status = 'held'",
            "confirmed" => "status = 'confirmed'",
            _ => return Ok(false),
        };
        self.release_where(id, refund_minor, now, condition).await
    }

    /// Releases an unpaid hold at once (its checkout ended); false if it
    /// was paid or released meanwhile.
    pub async fn release_held_seat(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        self.release_where(id, 0, now, "status = 'held'").await
    }

    /// Releases a hold whose time ran out unpaid; false if it was paid,
    /// released or extended meanwhile.
    pub async fn release_lapsed_hold(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        self.release_where(id, 0, now, "status = 'held' AND hold_expires_at <= $3")
            .await
    }

    /// Holds that ran out unpaid by `now`, oldest first, optionally of one
    /// campaign only.
    pub async fn lapsed_holds(
        &self,
        campaign: Option<&str>,
        now: i64,
        limit: i64,
    ) -> Result<Vec<SeatRow>, StoreError> {
        let only = if campaign.is_some() {
            "AND campaign_id = $3"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {SEAT_COLUMNS} FROM seats WHERE status = 'held' AND hold_expires_at <= $1 \
             {only} ORDER BY hold_expires_at, id LIMIT $2"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(limit);
        if let Some(c) = campaign {
            q = q.bind(c);
        }
        let rows = q.fetch_all(self.pool()).await?;
        Ok(rows.iter().map(seat).collect::<Result<_, _>>()?)
    }

    /// Releases seat `id` if `condition` (over the seat's columns; `$3` is
    /// `now`) holds, in one transaction with the campaign's seat count.
    async fn release_where(
        &self,
        id: &str,
        refund_minor: i64,
        now: i64,
        condition: &'static str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let sql = format!(
            "UPDATE seats SET status = 'released', refund_minor = $2, hold_expires_at = NULL, \
             updated_at = $3 WHERE id = $1 AND {condition}"
        );
        let released = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(refund_minor)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if released.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE campaigns SET seats_taken = seats_taken - 1, updated_at = $2, \
             status = CASE WHEN status = 'full' THEN 'published' ELSE status END \
             WHERE id = (SELECT campaign_id FROM seats WHERE id = $1)",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A player's waiting place in a campaign's queue, with its 1-based
    /// position.
    pub async fn waiting(
        &self,
        campaign: &str,
        account: &str,
    ) -> Result<Option<(WaitRow, i64)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, campaign_id, account_id, party_id, size, status, created_at, retry_at FROM waitlist \
             WHERE campaign_id = $1 AND account_id = $2 AND status = 'waiting'",
        )
        .bind(campaign)
        .bind(account)
        .fetch_optional(self.pool())
        .await?;
        let Some(w) = row.as_ref().map(wait).transpose()? else {
            return Ok(None);
        };
        let ahead: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM waitlist WHERE campaign_id = $1 AND status = 'waiting' \
             AND (created_at < $2 OR (created_at = $2 AND id < $3))",
        )
        .bind(campaign)
        .bind(w.created_at)
        .bind(&w.id)
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        Ok(Some((w, ahead + 1)))
    }

    /// The first waiting place of a campaign's queue that wants at most
    /// `seats` seats.
    pub async fn first_waiting_within(
        &self,
        campaign: &str,
        seats: i64,
    ) -> Result<Option<WaitRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, campaign_id, account_id, party_id, size, status, created_at, retry_at FROM waitlist \
             WHERE campaign_id = $1 AND status = 'waiting' AND size <= $2 \
             ORDER BY created_at, id LIMIT 1",
        )
        .bind(campaign)
        .bind(seats)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(wait).transpose()?)
    }

    /// Moves a waiting place to `to` (promoted or left); false if it was
    /// no longer waiting.
    pub async fn end_wait(&self, id: &str, to: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE waitlist SET status = $2, updated_at = $3 WHERE id = $1 AND status = 'waiting'",
        )
        .bind(id)
        .bind(to)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts a promoted place back in the queue, where it was, to be
    /// promoted again from `retry_at` on (any time with `None`).
    pub async fn reopen_wait(
        &self,
        id: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE waitlist SET status = 'waiting', retry_at = $3, updated_at = $2 \
             WHERE id = $1 AND status = 'promoted'",
        )
        .bind(id)
        .bind(now)
        .bind(retry_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Published campaigns with a free seat for someone waiting in their
    /// line (at most `limit`).
    pub async fn campaigns_to_promote(&self, limit: i64) -> Result<Vec<String>, StoreError> {
        // `c.status = 'published'` is campaigns_taking_seats's condition,
        // word for word (SQLite uses a partial index only then).
        let rows = sqlx::query(
            "SELECT c.id FROM campaigns c WHERE c.status = 'published' AND EXISTS ( \
               SELECT 1 FROM waitlist w WHERE w.campaign_id = c.id AND w.status = 'waiting' \
               AND w.size <= c.max_players - c.seats_taken) \
             ORDER BY c.id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)
    }

    /// Campaigns that stopped taking players (cancelled, started or
    /// completed) since `since` and still have places waiting in their
    /// line (at most `limit`).
    pub async fn closed_campaigns_with_line(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<Vec<CampaignRow>, StoreError> {
        // The status condition is campaigns_closed's, word for word.
        let sql = format!(
            "SELECT {COLUMNS} FROM campaigns c \
             WHERE c.status IN ('cancelled', 'running', 'completed') \
             AND c.updated_at >= $1 AND EXISTS (SELECT 1 FROM waitlist w \
               WHERE w.campaign_id = c.id AND w.status = 'waiting') \
             ORDER BY c.id LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(since)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(campaign).collect::<Result<_, _>>()?)
    }

    /// Waiting places of a campaign in queue order.
    pub async fn waitlist(&self, campaign: &str) -> Result<Vec<WaitRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, campaign_id, account_id, party_id, size, status, created_at, retry_at FROM waitlist \
             WHERE campaign_id = $1 AND status = 'waiting' ORDER BY created_at, id",
        )
        .bind(campaign)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(wait).collect::<Result<_, _>>()?)
    }

    /// Campaigns an account waits for, oldest place first.
    pub async fn waiting_places(&self, account: &str) -> Result<Vec<WaitRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, campaign_id, account_id, party_id, size, status, created_at, retry_at FROM waitlist \
             WHERE account_id = $1 AND status = 'waiting' ORDER BY created_at, id",
        )
        .bind(account)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(wait).collect::<Result<_, _>>()?)
    }
}
