//! Queries for the price books admins store over the configured one.

use sqlx::Row;

use super::{Store, StoreError};

/// A stored price book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceBookRow {
    /// Its version (unique).
    pub version: String,
    /// The book, JSON.
    pub body: String,
    /// The admin who stored it.
    pub created_by: Option<String>,
    /// Stored, Unix ms.
    pub created_at: i64,
}

impl Store {
    /// Stores a new book; it is in force from now. A version already used
    /// is a conflict (versions name one book for good).
    pub async fn insert_price_book(&self, b: &PriceBookRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO price_books (version, body, created_by, created_at, active) \
             VALUES ($1, $2, $3, $4, 1)",
        )
        .bind(&b.version)
        .bind(&b.body)
        .bind(&b.created_by)
        .bind(b.created_at)
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// The stored book in force: the newest still active.
    pub async fn active_price_book(&self) -> Result<Option<PriceBookRow>, StoreError> {
        let row = sqlx::query(
            "SELECT version, body, created_by, created_at FROM price_books \
             WHERE active = 1 ORDER BY created_at DESC, version DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        Ok(row
            .map(|r| -> Result<PriceBookRow, sqlx::Error> {
                Ok(PriceBookRow {
                    version: r.try_get("version")?,
                    body: r.try_get("body")?,
                    created_by: r.try_get("created_by")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .transpose()?)
    }

    /// Retires every stored book: the configured one is in force again.
    /// Returns how many were retired.
    pub async fn retire_price_books(&self) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE price_books SET active = 0 WHERE active = 1")
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
