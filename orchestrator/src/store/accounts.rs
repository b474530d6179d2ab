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
    /// active, suspended, banned or deleted.
    pub standing: String,
    /// End of a suspension, Unix ms.
    pub suspended_until: Option<i64>,
    /// Whether a confirmed TOTP second factor is required at log-in.
    pub totp_enabled: bool,
}

/// The columns [`account`] reads, for `concat!` into queries.
macro_rules! account_columns {
    () => {
        "id, email, handle, password_hash, role, email_verified, display_name, created_at, \
         standing, suspended_until, totp_enabled"
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
        standing: row.try_get("standing")?,
        suspended_until: row.try_get("suspended_until")?,
        totp_enabled: row.try_get::<i64, _>("totp_enabled")? != 0,
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
    /// Whether the log-in passed a second factor.
    pub mfa: bool,
}

impl Store {
    /// Inserts an account; a taken email or handle is a [`StoreError::Conflict`].
    pub async fn insert_account(&self, a: &AccountRow, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO accounts (id, email, handle, password_hash, role, email_verified, \
             display_name, created_at, updated_at, avatar_seed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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
        .bind(crate::accounts::tokens::random_token())
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
            "INSERT INTO refresh_tokens (token_hash, family_id, account_id, created_at, expires_at, mfa) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&r.token_hash)
        .bind(&r.family_id)
        .bind(&r.account_id)
        .bind(now)
        .bind(r.expires_at)
        .bind(i64::from(r.mfa))
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// The refresh token with this hash.
    pub async fn refresh_by_hash(&self, hash: &str) -> Result<Option<RefreshRow>, StoreError> {
        let row = sqlx::query(
            "SELECT token_hash, family_id, account_id, expires_at, rotated_at, revoked_at, mfa \
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
                mfa: r.try_get::<i64, _>("mfa")? != 0,
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

    /// Queues a mail; a mail whose id is queued already is dropped (mails
    /// with ids derived from what they are about go out once however often
    /// their processing is retried).
    pub async fn queue_mail(
        &self,
        id: &str,
        recipient: &str,
        subject: &str,
        body: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO outbox (id, recipient, subject, body, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO NOTHING",
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

    /// Where and how to write to an account: its email, handle and
    /// profile time zone (`None` when it is gone).
    pub async fn mail_recipient(
        &self,
        id: &str,
    ) -> Result<Option<(String, String, String)>, StoreError> {
        let row = sqlx::query("SELECT email, handle, time_zone FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some((
            r.try_get("email")?,
            r.try_get("handle")?,
            r.try_get("time_zone")?,
        )))
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

/// The profile part of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRow {
    /// Account id.
    pub account_id: String,
    /// Handle.
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// Bio.
    pub bio: String,
    /// IANA time zone.
    pub time_zone: String,
    /// JSON array of game modes.
    pub preferred_modes: String,
    /// JSON array of LLM tiers.
    pub llm_tiers: String,
    /// JSON array of weekly availability windows.
    pub availability: String,
    /// Seed of the generated avatar.
    pub avatar_seed: String,
    /// public, friends or private.
    pub profile_visibility: String,
    /// everyone or nobody.
    pub friend_requests_from: String,
    /// Role.
    pub role: String,
    /// Standing.
    pub standing: String,
    /// Created, Unix ms.
    pub created_at: i64,
}

fn profile(r: &sqlx::any::AnyRow) -> Result<ProfileRow, sqlx::Error> {
    Ok(ProfileRow {
        account_id: r.try_get("id")?,
        handle: r.try_get("handle")?,
        display_name: r.try_get("display_name")?,
        bio: r.try_get("bio")?,
        time_zone: r.try_get("time_zone")?,
        preferred_modes: r.try_get("preferred_modes")?,
        llm_tiers: r.try_get("llm_tiers")?,
        availability: r.try_get("availability")?,
        avatar_seed: r.try_get("avatar_seed")?,
        profile_visibility: r.try_get("profile_visibility")?,
        friend_requests_from: r.try_get("friend_requests_from")?,
        role: r.try_get("role")?,
        standing: r.try_get("standing")?,
        created_at: r.try_get("created_at")?,
    })
}

const PROFILE_COLUMNS: &str = "id, handle, display_name, bio, time_zone, preferred_modes, \
     llm_tiers, availability, avatar_seed, profile_visibility, friend_requests_from, role, \
     standing, created_at";

/// An API key row (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    /// Id.
    pub id: String,
    /// Owner.
    pub account_id: String,
    /// The owner's name for it.
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    /// Space-separated scopes.
    pub scopes: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last used, Unix ms.
    pub last_used_at: Option<i64>,
    /// Revoked, Unix ms.
    pub revoked_at: Option<i64>,
}

fn api_key(r: &sqlx::any::AnyRow) -> Result<ApiKeyRow, sqlx::Error> {
    Ok(ApiKeyRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        scopes: r.try_get("scopes")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

const API_KEY_COLUMNS: &str =
    "id, account_id, name, prefix, scopes, created_at, last_used_at, revoked_at";

/// What the request authenticator needs to know about an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// Role.
    pub role: String,
    /// active, suspended, banned or deleted.
    pub standing: String,
    /// End of a suspension, Unix ms.
    pub suspended_until: Option<i64>,
}

impl Store {
    /// An account's role and standing.
    pub async fn standing(&self, account_id: &str) -> Result<Option<Standing>, StoreError> {
        let row = sqlx::query("SELECT role, standing, suspended_until FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| -> Result<Standing, StoreError> {
            Ok(Standing {
                role: r.try_get("role")?,
                standing: r.try_get("standing")?,
                suspended_until: r.try_get("suspended_until")?,
            })
        })
        .transpose()
    }

    /// The account with this handle (case-insensitive).
    pub async fn account_by_handle(&self, handle: &str) -> Result<Option<AccountRow>, StoreError> {
        let sql = concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE LOWER(handle) = $1"
        );
        let row = sqlx::query(sql)
            .bind(handle.trim().to_ascii_lowercase())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(account).transpose()?)
    }

    /// The profile of an account by id.
    pub async fn profile(&self, account_id: &str) -> Result<Option<ProfileRow>, StoreError> {
        let sql = format!("SELECT {PROFILE_COLUMNS} FROM accounts WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(profile).transpose()?)
    }

    /// The profile of an account by handle (case-insensitive).
    pub async fn profile_by_handle(&self, handle: &str) -> Result<Option<ProfileRow>, StoreError> {
        let sql = format!("SELECT {PROFILE_COLUMNS} FROM accounts WHERE LOWER(handle) = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(handle.trim().to_ascii_lowercase())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(profile).transpose()?)
    }

    /// Writes the editable profile fields.
    pub async fn update_profile(&self, p: &ProfileRow, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE accounts SET display_name = $2, bio = $3, time_zone = $4, \
             preferred_modes = $5, llm_tiers = $6, availability = $7, profile_visibility = $8, \
             friend_requests_from = $9, updated_at = $10 WHERE id = $1",
        )
        .bind(&p.account_id)
        .bind(&p.display_name)
        .bind(&p.bio)
        .bind(&p.time_zone)
        .bind(&p.preferred_modes)
        .bind(&p.llm_tiers)
        .bind(&p.availability)
        .bind(&p.profile_visibility)
        .bind(&p.friend_requests_from)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Replaces an account's password hash.
    pub async fn set_password(
        &self,
        account_id: &str,
        hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(account_id)
            .bind(hash)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Sets an account's role.
    pub async fn set_role(
        &self,
        account_id: &str,
        role: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE accounts SET role = $2, updated_at = $3 WHERE id = $1 AND standing <> 'deleted'",
        )
        .bind(account_id)
        .bind(role)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets an account's standing (never touches a deleted account).
    pub async fn set_standing(
        &self,
        account_id: &str,
        standing: &str,
        suspended_until: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE accounts SET standing = $2, suspended_until = $3, updated_at = $4 \
             WHERE id = $1 AND standing <> 'deleted'",
        )
        .bind(account_id)
        .bind(standing)
        .bind(suspended_until)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The stored TOTP secret and whether it is confirmed, and the last
    /// time step a code was accepted for.
    pub async fn totp(&self, account_id: &str) -> Result<Option<(String, bool, i64)>, StoreError> {
        let row = sqlx::query(
            "SELECT totp_secret, totp_enabled, totp_last_step FROM accounts WHERE id = $1",
        )
        .bind(account_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let secret: Option<String> = r.try_get("totp_secret")?;
        Ok(secret
            .map(|s| -> Result<_, sqlx::Error> {
                Ok((
                    s,
                    r.try_get::<i64, _>("totp_enabled")? != 0,
                    r.try_get::<i64, _>("totp_last_step")?,
                ))
            })
            .transpose()?)
    }

    /// Stores a new, unconfirmed TOTP secret.
    pub async fn set_totp_secret(
        &self,
        account_id: &str,
        secret: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE accounts SET totp_secret = $2, totp_enabled = 0, totp_last_step = 0, \
             updated_at = $3 WHERE id = $1",
        )
        .bind(account_id)
        .bind(secret)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a used TOTP step (and confirms the factor). Returns false
    /// when that step or a later one was already used: a code works once.
    pub async fn use_totp_step(&self, account_id: &str, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE accounts SET totp_enabled = 1, totp_last_step = $2 \
             WHERE id = $1 AND totp_last_step < $2",
        )
        .bind(account_id)
        .bind(step)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores an API key.
    pub async fn insert_api_key(&self, k: &ApiKeyRow, key_hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, account_id, name, prefix, key_hash, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&k.id)
        .bind(&k.account_id)
        .bind(&k.name)
        .bind(&k.prefix)
        .bind(key_hash)
        .bind(&k.scopes)
        .bind(k.created_at)
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// An account's API keys, newest first.
    pub async fn api_keys(&self, account_id: &str) -> Result<Vec<ApiKeyRow>, StoreError> {
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE account_id = $1 ORDER BY created_at DESC, id DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(api_key).collect::<Result<_, _>>()?)
    }

    /// A live key by its hash, marking it used.
    pub async fn use_api_key(
        &self,
        key_hash: &str,
        now: i64,
    ) -> Result<Option<ApiKeyRow>, StoreError> {
        let sql = format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key_hash)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row.as_ref().map(api_key).transpose()? else {
            return Ok(None);
        };
        // Last use is advisory; only write it once a minute per key.
        if row.last_used_at.is_none_or(|t| now - t > 60_000) {
            sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
                .bind(&row.id)
                .bind(now)
                .execute(self.pool())
                .await?;
        }
        Ok(Some(row))
    }

    /// Revokes one of an account's keys; false when it has no such live key.
    pub async fn revoke_api_key(
        &self,
        account_id: &str,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(account_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Session metadata of an account (no token hashes): (family, created,
    /// expires, revoked) of each log-in's newest token.
    pub async fn sessions(
        &self,
        account_id: &str,
    ) -> Result<Vec<(String, i64, i64, Option<i64>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT family_id, MIN(created_at) AS created_at, MAX(expires_at) AS expires_at, \
             MAX(revoked_at) AS revoked_at FROM refresh_tokens WHERE account_id = $1 \
             GROUP BY family_id ORDER BY MIN(created_at)",
        )
        .bind(account_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("family_id")?,
                    r.try_get("created_at")?,
                    r.try_get("expires_at")?,
                    r.try_get("revoked_at")?,
                ))
            })
            .collect()
    }

    /// Mail sent to an address: (subject, created).
    pub async fn mail_to(&self, recipient: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT subject, created_at FROM outbox WHERE recipient = $1 ORDER BY created_at, id",
        )
        .bind(recipient)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("subject")?, r.try_get("created_at")?)))
            .collect()
    }

    /// Erases an account's personal data in one transaction: the account
    /// row is anonymised (kept, so ids in money records and the audit log
    /// still resolve to "a deleted account"), and its sessions, keys,
    /// one-time tokens, mail, friendships, blocks, party places and profile
    /// go.
    pub async fn erase_account(
        &self,
        account_id: &str,
        email: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let short: String = account_id
            .chars()
            .filter(char::is_ascii_hexdigit)
            .take(12)
            .collect();
        sqlx::query(
            "UPDATE accounts SET email = $2, handle = $3, password_hash = '!', \
             display_name = 'Deleted player', bio = '', time_zone = 'UTC', preferred_modes = '[]', \
             llm_tiers = '[]', availability = '[]', avatar_seed = '', profile_visibility = 'private', \
             friend_requests_from = 'nobody', standing = 'deleted', suspended_until = NULL, \
             totp_secret = NULL, totp_enabled = 0, email_verified = 0, deleted_at = $4, \
             updated_at = $4 WHERE id = $1",
        )
        .bind(account_id)
        .bind(format!("deleted-{account_id}@deleted.invalid"))
        .bind(format!("deleted-{short}"))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for sql in [
            "DELETE FROM refresh_tokens WHERE account_id = $1",
            "DELETE FROM account_tokens WHERE account_id = $1",
            "DELETE FROM api_keys WHERE account_id = $1",
            "DELETE FROM calendar_feeds WHERE account_id = $1",
            "DELETE FROM tickets WHERE account_id = $1",
            "DELETE FROM friendships WHERE requester_id = $1 OR addressee_id = $1",
            "DELETE FROM blocks WHERE blocker_id = $1 OR blocked_id = $1",
            "DELETE FROM party_members WHERE account_id = $1",
            "UPDATE reports SET details = '', reporter_id = NULL WHERE reporter_id = $1",
        ] {
            sqlx::query(sql).bind(account_id).execute(&mut *tx).await?;
        }
        sqlx::query(
            "UPDATE parties SET disbanded_at = $2 WHERE leader_id = $1 AND disbanded_at IS NULL",
        )
        .bind(account_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM outbox WHERE recipient = $1")
            .bind(email)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
