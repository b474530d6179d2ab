//! Queries for accounts, refresh tokens, one-time tokens and the outbox.

use sqlx::Row;

use super::{Store, StoreError};

/// An account row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    /// Id.
    pub id: String,
    /// Email (lower case).
    pub email: String,
    /// Handle.
    pub handle: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// player, gm or admin.
    pub role: String,
    /// Whether the email was confirmed.
    pub email_verified: bool,
    /// Display name.
    pub display_name: String,
    /// Created, Unix ms.
    pub created_at: i64,
}

/// The columns [`account`] reads, for `concat!` into queries.
macro_rules! account_columns {
    () => {
        "id, email, handle, password_hash, role, email_verified, display_name, created_at"
    };
}

fn account(row: &sqlx::any::AnyRow) -> Result<AccountRow, sqlx::Error> {
    Ok(AccountRow {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        handle: row.try_get("handle")?,
        password_hash: row.try_get("password_hash")?,
        role: row.try_get("role")?,
        email_verified: row.try_get::<i64, _>("email_verified")? != 0,
        display_name: row.try_get("display_name")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A refresh token row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRow {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// The login it belongs to.
    pub family_id: String,
    /// Its account.
    pub account_id: String,
    /// Expiry, Unix ms.
    pub expires_at: i64,
    /// When it was exchanged for a new one.
    pub rotated_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

impl Store {
    /// Inserts an account; a taken email or handle is a [`StoreError::Conflict`].
    pub async fn insert_account(&self, a: &AccountRow, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO accounts (id, email, handle, password_hash, role, email_verified, \
             display_name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&a.id)
        .bind(&a.email)
        .bind(&a.handle)
        .bind(&a.password_hash)
        .bind(&a.role)
        .bind(i64::from(a.email_verified))
        .bind(&a.display_name)
        .bind(a.created_at)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// The account with this email or handle (both matched case-insensitively
    /// as stored: emails lower case, handles as given).
    pub async fn account_by_login(&self, login: &str) -> Result<Option<AccountRow>, StoreError> {
        let sql = concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE email = $1 OR LOWER(handle) = $2"
        );
        let row = sqlx::query(sql)
            .bind(login.to_ascii_lowercase())
            .bind(login.to_ascii_lowercase())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(account).transpose()?)
    }

    /// The account with this id.
    pub async fn account_by_id(&self, id: &str) -> Result<Option<AccountRow>, StoreError> {
        let sql = concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE id = $1"
        );
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(account).transpose()?)
    }

    /// Whether any account has this role.
    pub async fn role_exists(&self, role: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE role = $1")
            .bind(role)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok(n > 0)
    }

    /// Marks an account's email as verified.
    pub async fn verify_email(&self, account_id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET email_verified = 1, updated_at = $2 WHERE id = $1")
            .bind(account_id)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Stores a new refresh token.
    pub async fn insert_refresh(&self, r: &RefreshRow, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, account_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&r.token_hash)
        .bind(&r.family_id)
        .bind(&r.account_id)
        .bind(now)
        .bind(r.expires_at)
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// The refresh token with this hash.
    pub async fn refresh_by_hash(&self, hash: &str) -> Result<Option<RefreshRow>, StoreError> {
        let row = sqlx::query(
            "SELECT token_hash, family_id, account_id, expires_at, rotated_at, revoked_at \
             FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(hash)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| -> Result<RefreshRow, StoreError> {
            Ok(RefreshRow {
                token_hash: r.try_get("token_hash")?,
                family_id: r.try_get("family_id")?,
                account_id: r.try_get("account_id")?,
                expires_at: r.try_get("expires_at")?,
                rotated_at: r.try_get("rotated_at")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        })
        .transpose()
    }

    /// Marks a live token as rotated. Returns false when it was already
    /// rotated or revoked (by a concurrent request, or by reuse).
    pub async fn rotate_refresh(&self, hash: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = $2 \
             WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL",
        )
        .bind(hash)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Revokes every token of a login.
    pub async fn revoke_family(&self, family_id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
        )
        .bind(family_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Revokes every token of an account, except one login's if given.
    pub async fn revoke_account_sessions(
        &self,
        account_id: &str,
        keep_family: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 \
             WHERE account_id = $1 AND revoked_at IS NULL AND family_id <> $3",
        )
        .bind(account_id)
        .bind(now)
        .bind(keep_family.unwrap_or(""))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Stores a one-time token.
    pub async fn insert_account_token(
        &self,
        hash: &str,
        account_id: &str,
        purpose: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO account_tokens (token_hash, account_id, purpose, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(account_id)
        .bind(purpose)
        .bind(expires_at)
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// Uses a one-time token: returns its account when it exists, has this
    /// purpose, is unexpired and unused, and marks it used (once only, even
    /// under concurrent requests).
    pub async fn use_account_token(
        &self,
        hash: &str,
        purpose: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT account_id FROM account_tokens \
             WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(hash)
        .bind(purpose)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let account_id: String = row.try_get("account_id")?;
        let claimed = sqlx::query(
            "UPDATE account_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL",
        )
        .bind(hash)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok((claimed.rows_affected() == 1).then_some(account_id))
    }

    /// Queues a mail.
    pub async fn queue_mail(
        &self,
        id: &str,
        recipient: &str,
        subject: &str,
        body: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO outbox (id, recipient, subject, body, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(recipient)
        .bind(subject)
        .bind(body)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Mail not yet sent, oldest first: (id, recipient, subject, body).
    pub async fn unsent_mail(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, recipient, subject, body FROM outbox WHERE sent_at IS NULL \
             ORDER BY created_at, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("recipient")?,
                    r.try_get("subject")?,
                    r.try_get("body")?,
                ))
            })
            .collect()
    }

    /// Marks a mail sent.
    pub async fn mark_mail_sent(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET sent_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
