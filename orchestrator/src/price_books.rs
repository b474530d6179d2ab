//! The price book in force: the one from the orchestrator's configuration,
//! unless an admin has stored a newer one in the database. Stored books are
//! never edited (a version names one book for good) and every change is on
//! the audit log. Quoting itself stays in the pure [`crate::pricing`].

use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::AccountError;
use crate::pricing::{PriceBook, PricingError};
use crate::store::pricing::PriceBookRow;
use crate::store::{Store, StoreError};

/// Where the book in force comes from.
#[derive(Debug, Clone)]
pub struct PriceBooks {
    configured: Arc<PriceBook>,
}

/// The book in force and where it came from.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InForce {
    /// config (the orchestrator's configuration) or admin (stored by an admin).
    pub source: String,
    /// The book.
    #[schema(value_type = Object)]
    pub book: PriceBook,
    /// The admin who stored it, for admin books.
    pub set_by: Option<String>,
    /// When it was stored, Unix ms, for admin books.
    pub set_at: Option<i64>,
}

impl From<PricingError> for AccountError {
    fn from(e: PricingError) -> Self {
        match e {
            PricingError::Invalid { field, message } => AccountError::Invalid { field, message },
            other @ PricingError::AboveMaximum { .. } => AccountError::Invalid {
                field: "price",
                message: other.to_string(),
            },
        }
    }
}

impl PriceBooks {
    /// Uses `configured` unless an admin stores another; it must be valid.
    pub fn new(configured: PriceBook) -> Result<PriceBooks, PricingError> {
        configured.validate()?;
        Ok(PriceBooks {
            configured: Arc::new(configured),
        })
    }

    /// The book quotes are made from now.
    pub async fn current(&self, store: &Store) -> Result<InForce, AccountError> {
        match store.active_price_book().await? {
            None => Ok(InForce {
                source: "config".into(),
                book: PriceBook::clone(&self.configured),
                set_by: None,
                set_at: None,
            }),
            Some(row) => {
                let book: PriceBook = serde_json::from_str(&row.body).map_err(|e| {
                    AccountError::Store(StoreError::Corrupt(format!(
                        "stored price book {}: {e}",
                        row.version
                    )))
                })?;
                Ok(InForce {
                    source: "admin".into(),
                    book,
                    set_by: row.created_by,
                    set_at: Some(row.created_at),
                })
            }
        }
    }

    /// An admin puts `book` in force. Its version must be new (neither the
    /// configured book's nor a stored one's).
    pub async fn set(
        &self,
        store: &Store,
        admin: &str,
        book: PriceBook,
        now: i64,
    ) -> Result<InForce, AccountError> {
        book.validate()?;
        if book.version == self.configured.version {
            return Err(AccountError::Conflict(format!(
                "version {} is the configured book's; pick a new version",
                book.version
            )));
        }
        let body =
            serde_json::to_string(&book).map_err(|e| AccountError::Hashing(e.to_string()))?;
        let row = PriceBookRow {
            version: book.version.clone(),
            body,
            created_by: Some(admin.to_string()),
            created_at: now,
        };
        match store.insert_price_book(&row).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(AccountError::Conflict(format!(
                    "price book version {} already exists; pick a new version",
                    book.version
                )));
            }
            Err(e) => return Err(e.into()),
        }
        crate::safety::audit(
            store,
            Some(admin),
            "price_book.set",
            "price_book",
            &book.version,
            serde_json::to_value(&book).unwrap_or_default(),
            now,
        )
        .await?;
        Ok(InForce {
            source: "admin".into(),
            book,
            set_by: Some(admin.to_string()),
            set_at: Some(now),
        })
    }

    /// An admin returns to the configured book.
    pub async fn reset(
        &self,
        store: &Store,
        admin: &str,
        now: i64,
    ) -> Result<InForce, AccountError> {
        let retired = store.retire_price_books().await?;
        crate::safety::audit(
            store,
            Some(admin),
            "price_book.reset",
            "price_book",
            &self.configured.version,
            serde_json::json!({ "retired": retired }),
            now,
        )
        .await?;
        self.current(store).await
    }
}
