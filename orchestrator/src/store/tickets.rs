//! Queries for quick-join tickets and the open campaigns they match.

use sqlx::Row;

use super::{Store, StoreError};

/// A ticket row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRow {
    /// Id.
    pub id: String,
    /// The player (a party's leader for a party ticket).
    pub account_id: String,
    /// Whether the whole party is matched.
    pub party: bool,
    /// Seats needed.
    pub party_size: i64,
    /// Acceptable modes, JSON array (empty: any).
    pub modes: String,
    /// Acceptable tiers, JSON array (empty: any).
    pub tiers: String,
    /// Most per seat, minor units.
    pub max_price_minor: Option<i64>,
    /// Free slots of the week, JSON (null: any time).
    pub availability: Option<String>,
    /// waiting, matched or cancelled.
    pub status: String,
    /// The campaign matched.
    pub campaign_id: Option<String>,
    /// The match's score.
    pub score: Option<i64>,
    /// The match's reasons, JSON.
    pub reasons: Option<String>,
    /// Made, Unix ms.
    pub created_at: i64,
}

const COLUMNS: &str = "id, account_id, party, party_size, modes, tiers, max_price_minor, \
     availability, status, campaign_id, score, reasons, created_at";

fn ticket(r: &sqlx::any::AnyRow) -> Result<TicketRow, sqlx::Error> {
    Ok(TicketRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        party: r.try_get::<i64, _>("party")? != 0,
        party_size: r.try_get("party_size")?,
        modes: r.try_get("modes")?,
        tiers: r.try_get("tiers")?,
        max_price_minor: r.try_get("max_price_minor")?,
        availability: r.try_get("availability")?,
        status: r.try_get("status")?,
        campaign_id: r.try_get("campaign_id")?,
        score: r.try_get("score")?,
        reasons: r.try_get("reasons")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Stores a waiting ticket; a player already waiting is a conflict.
    pub async fn insert_ticket(&self, t: &TicketRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tickets (id, account_id, party, party_size, modes, tiers, max_price_minor, \
             availability, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'waiting', $9, $9)",
        )
        .bind(&t.id)
        .bind(&t.account_id)
        .bind(i64::from(t.party))
        .bind(t.party_size)
        .bind(&t.modes)
        .bind(&t.tiers)
        .bind(t.max_price_minor)
        .bind(&t.availability)
        .bind(t.created_at)
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// A ticket by id.
    pub async fn ticket(&self, id: &str) -> Result<Option<TicketRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM tickets WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(ticket).transpose()?)
    }

    /// Waiting tickets, oldest first.
    pub async fn waiting_tickets(&self, limit: i64) -> Result<Vec<TicketRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM tickets WHERE status = 'waiting' \
             ORDER BY created_at, id LIMIT $1"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(ticket).collect::<Result<_, _>>()?)
    }

    /// Marks a waiting ticket matched; false if it was no longer waiting.
    pub async fn match_ticket(
        &self,
        id: &str,
        campaign: &str,
        score: i64,
        reasons: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tickets SET status = 'matched', campaign_id = $2, score = $3, reasons = $4, \
             updated_at = $5 WHERE id = $1 AND status = 'waiting'",
        )
        .bind(id)
        .bind(campaign)
        .bind(score)
        .bind(reasons)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Cancels a waiting ticket; false if it was not waiting.
    pub async fn cancel_ticket(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tickets SET status = 'cancelled', updated_at = $2 \
             WHERE id = $1 AND status = 'waiting'",
        )
        .bind(id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
