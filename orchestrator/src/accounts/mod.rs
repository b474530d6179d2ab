//! Accounts and sessions: sign-up, email verification, log-in with a
//! short-lived access token and a rotating refresh token, log-out here or
//! everywhere.
//!
//! Refresh tokens are random, stored only as SHA-256 hashes, and rotate on
//! every use. The tokens of one log-in form a family: presenting a token
//! that was already exchanged means it leaked, so the whole family is
//! revoked and the thief's copy dies with the owner's.

pub mod api_keys;
pub mod export;
pub mod passwords;
pub mod profile;
pub mod tokens;
pub mod totp;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::accounts::{AccountRow, RefreshRow};
use crate::store::{Store, StoreError};
pub use passwords::Passwords;
pub use tokens::{AccessClaims, TokenKeys};

/// How long a refresh token lives.
pub const REFRESH_TTL_MS: i64 = 30 * 24 * 3_600_000;
/// How long an email verification link lives.
pub const VERIFY_TTL_MS: i64 = 48 * 3_600_000;
/// How long a password-reset code lives.
pub const RESET_TTL_MS: i64 = 3_600_000;

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A field is malformed; names the field.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Email or handle already taken.
    #[error("{0} is already taken")]
    Taken(String),
    /// Wrong login or password (never says which).
    #[error("wrong login or password")]
    BadCredentials,
    /// A refresh or one-time token is unknown, expired, used or revoked.
    #[error("the token is invalid or expired")]
    BadToken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// Not allowed for this caller.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing (or not visible to the caller).
    #[error("not found")]
    NotFound,
    /// Clashes with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The account is suspended until this time (Unix ms).
    #[error("the account is suspended until {until}")]
    Suspended {
        /// End of the suspension, Unix ms.
        until: i64,
    },
    /// The account is banned.
    #[error("the account is banned")]
    Banned,
    /// A service the call depends on (the payment provider) failed;
    /// nothing was changed.
    #[error("{0}")]
    Unavailable(String),
    /// The payment provider refused to start a payment (retrying the same
    /// call will not help); nothing was kept or charged.
    #[error("the payment provider refused: {0}")]
    PaymentRefused(String),
    /// The account needs a TOTP code to log in.
    #[error("this account needs a code from its authenticator app (field totp)")]
    SecondFactorRequired,
}

/// Whether an account in this standing may log in and act now.
pub fn check_standing(
    standing: &str,
    suspended_until: Option<i64>,
    now: i64,
) -> Result<(), AccountError> {
    match standing {
        "active" => Ok(()),
        "suspended" => match suspended_until {
            Some(until) if until <= now => Ok(()),
            Some(until) => Err(AccountError::Suspended { until }),
            None => Err(AccountError::Banned),
        },
        "banned" => Err(AccountError::Banned),
        // Deleted accounts have no usable password or sessions; refuse the
        // same way as an unknown login.
        _ => Err(AccountError::BadCredentials),
    }
}

pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> AccountError {
    AccountError::Invalid {
        field,
        message: message.into(),
    }
}

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Plays campaigns.
    Player,
    /// Also runs campaigns.
    Gm,
    /// Runs the platform.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Player => "player",
            Role::Gm => "gm",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored name (unknown names are players: least privilege).
    pub fn from_stored(s: &str) -> Role {
        match s {
            "gm" => Role::Gm,
            "admin" => Role::Admin,
            _ => Role::Player,
        }
    }
}

/// Checks and normalises an email address (lower case).
pub fn parse_email(s: &str) -> Result<String, AccountError> {
    let e = s.trim().to_ascii_lowercase();
    let bad = || invalid("email", "must be an email address like name@example.com");
    if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = e.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Err(bad());
    }
    Ok(e)
}

/// Checks a handle: 3-24 letters, digits, `_` or `-`, starting with a letter.
pub fn parse_handle(s: &str) -> Result<String, AccountError> {
    let h = s.trim();
    let ok = (3..=24).contains(&h.len())
        && h.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(h.to_string())
    } else {
        Err(invalid(
            "handle",
            "must be 3-24 letters, digits, _ or -, starting with a letter",
        ))
    }
}

/// Checks a new password: 10-128 characters, not the email or handle.
pub fn check_password(password: &str, email: &str, handle: &str) -> Result<(), AccountError> {
    let n = password.chars().count();
    if !(10..=128).contains(&n) {
        return Err(invalid("password", "must be 10 to 128 characters long"));
    }
    let lower = password.to_lowercase();
    if lower == email || lower == handle.to_lowercase() {
        return Err(invalid("password", "must not be your email or handle"));
    }
    Ok(())
}

/// A new account's id: a UUID v7 (time-ordered), as text.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Tokens handed out at log-in and refresh.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionTokens {
    /// Bearer token for API calls.
    pub access_token: String,
    /// Seconds the access token is valid.
    pub expires_in: i64,
    /// Exchange this for new tokens at `POST /api/v1/sessions/refresh`.
    pub refresh_token: String,
}

/// Everything account operations need.
pub struct Accounts<'a> {
    /// The store.
    pub store: &'a Store,
    /// Password hashing.
    pub passwords: &'a Passwords,
    /// Access-token signing.
    pub keys: &'a TokenKeys,
    /// Now, Unix ms.
    pub now: i64,
}

/// A sign-up request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SignUp {
    /// Email address (verified by mail).
    pub email: String,
    /// Public handle.
    pub handle: String,
    /// Password (10-128 characters).
    pub password: String,
}

impl Accounts<'_> {
    /// Creates a player account and queues its verification mail.
    pub async fn sign_up(&self, req: SignUp) -> Result<AccountRow, AccountError> {
        let email = parse_email(&req.email)?;
        let handle = parse_handle(&req.handle)?;
        check_password(&req.password, &email, &handle)?;
        let hash = self.passwords.hash(&req.password).await?;
        self.create(email, handle, hash, Role::Player).await
    }

    /// Creates an account with a hashed password and role, and queues its
    /// verification mail.
    pub async fn create(
        &self,
        email: String,
        handle: String,
        password_hash: String,
        role: Role,
    ) -> Result<AccountRow, AccountError> {
        let row = AccountRow {
            id: new_id(),
            email,
            handle: handle.clone(),
            password_hash,
            role: role.as_str().to_string(),
            email_verified: false,
            display_name: handle,
            created_at: self.now,
            standing: "active".into(),
            suspended_until: None,
            totp_enabled: false,
        };
        match self.store.insert_account(&row, self.now).await {
            Ok(()) => {}
            Err(StoreError::Conflict(what)) => return Err(AccountError::Taken(what)),
            Err(e) => return Err(e.into()),
        }
        let token = tokens::random_token();
        self.store
            .insert_account_token(
                &tokens::hash_token(&token),
                &row.id,
                "verify",
                self.now + VERIFY_TTL_MS,
            )
            .await?;
        self.store
            .queue_mail(
                &new_id(),
                &row.email,
                "Confirm your Startales email",
                &format!(
                    "Welcome, {}!\n\nConfirm your email with this code: {token}\n\
                     (POST it to /api/v1/accounts/verify within 48 hours.)\n",
                    row.handle
                ),
                self.now,
            )
            .await?;
        Ok(row)
    }

    /// Confirms an email with the token from the verification mail.
    pub async fn verify_email(&self, token: &str) -> Result<(), AccountError> {
        let account = self
            .store
            .use_account_token(&tokens::hash_token(token.trim()), "verify", self.now)
            .await?
            .ok_or(AccountError::BadToken)?;
        self.store.verify_email(&account, self.now).await?;
        Ok(())
    }

    /// Logs in with an email or handle and a password (and a TOTP code when
    /// the account has a second factor). The same error for an unknown login
    /// and a wrong password, and the same work (a hash check) either way, so
    /// logins cannot be probed. Suspended and banned accounts are refused
    /// once the password is right.
    pub async fn log_in(
        &self,
        login: &str,
        password: &str,
        totp_code: Option<&str>,
    ) -> Result<SessionTokens, AccountError> {
        let account = self.store.account_by_login(login.trim()).await?;
        let hash = account
            .as_ref()
            .filter(|a| a.standing != "deleted")
            .map(|a| a.password_hash.clone());
        let ok = self.passwords.verify(password, hash.as_deref()).await?;
        let a = match account {
            Some(a) if ok => a,
            _ => return Err(AccountError::BadCredentials),
        };
        check_standing(&a.standing, a.suspended_until, self.now)?;
        let mfa = if a.totp_enabled {
            let code = totp_code.ok_or(AccountError::SecondFactorRequired)?;
            self.use_totp_code(&a.id, code).await?;
            true
        } else {
            false
        };
        self.start_session(&a, &new_id(), mfa).await
    }

    /// Checks a TOTP code against the account's secret and spends its time
    /// step, so a code works once.
    async fn use_totp_code(&self, account_id: &str, code: &str) -> Result<(), AccountError> {
        let (secret, _, _) = self
            .store
            .totp(account_id)
            .await?
            .ok_or(AccountError::SecondFactorRequired)?;
        let step = totp::check(&secret, code, self.now)
            .ok_or_else(|| invalid("totp", "the code is wrong or expired"))?;
        if !self.store.use_totp_step(account_id, step).await? {
            return Err(invalid(
                "totp",
                "that code was already used; wait for the next one",
            ));
        }
        Ok(())
    }

    /// Starts TOTP enrolment: a new secret to put in an authenticator app,
    /// active once a code from it is confirmed.
    pub async fn enrol_totp(&self, account_id: &str) -> Result<TotpEnrolment, AccountError> {
        let account = self
            .store
            .account_by_id(account_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        if account.totp_enabled {
            return Err(AccountError::Conflict(
                "a second factor is already set up".into(),
            ));
        }
        let secret = totp::new_secret();
        self.store
            .set_totp_secret(account_id, &secret, self.now)
            .await?;
        Ok(TotpEnrolment {
            uri: totp::uri(&secret, &account.handle),
            secret,
        })
    }

    /// Confirms enrolment with a code from the app.
    pub async fn confirm_totp(&self, account_id: &str, code: &str) -> Result<(), AccountError> {
        self.use_totp_code(account_id, code).await
    }

    async fn start_session(
        &self,
        a: &AccountRow,
        family: &str,
        mfa: bool,
    ) -> Result<SessionTokens, AccountError> {
        let refresh = tokens::random_token();
        self.store
            .insert_refresh(
                &RefreshRow {
                    token_hash: tokens::hash_token(&refresh),
                    family_id: family.to_string(),
                    account_id: a.id.clone(),
                    expires_at: self.now + REFRESH_TTL_MS,
                    rotated_at: None,
                    revoked_at: None,
                    mfa,
                },
                self.now,
            )
            .await?;
        let access = self
            .keys
            .issue(&a.id, Role::from_stored(&a.role), family, mfa, self.now)
            .map_err(|e| AccountError::Hashing(e.to_string()))?;
        Ok(SessionTokens {
            access_token: access,
            expires_in: tokens::ACCESS_TTL_MS / 1000,
            refresh_token: refresh,
        })
    }

    /// Exchanges a refresh token for new tokens. A token that was already
    /// exchanged revokes its whole family.
    pub async fn refresh(&self, token: &str) -> Result<SessionTokens, AccountError> {
        let hash = tokens::hash_token(token.trim());
        let row = self
            .store
            .refresh_by_hash(&hash)
            .await?
            .ok_or(AccountError::BadToken)?;
        if row.revoked_at.is_some() || row.expires_at <= self.now {
            return Err(AccountError::BadToken);
        }
        if row.rotated_at.is_some() || !self.store.rotate_refresh(&hash, self.now).await? {
            // Reuse of an old token: someone else has a copy.
            self.store.revoke_family(&row.family_id, self.now).await?;
            return Err(AccountError::BadToken);
        }
        let account = self
            .store
            .account_by_id(&row.account_id)
            .await?
            .ok_or(AccountError::BadToken)?;
        if let Err(e) = check_standing(&account.standing, account.suspended_until, self.now) {
            self.store.revoke_family(&row.family_id, self.now).await?;
            return Err(e);
        }
        self.start_session(&account, &row.family_id, row.mfa).await
    }

    /// Ends the session a refresh token belongs to.
    pub async fn log_out(&self, token: &str) -> Result<(), AccountError> {
        let hash = tokens::hash_token(token.trim());
        if let Some(row) = self.store.refresh_by_hash(&hash).await? {
            self.store.revoke_family(&row.family_id, self.now).await?;
        }
        Ok(())
    }

    /// Ends every session of an account.
    pub async fn log_out_everywhere(&self, account_id: &str) -> Result<(), AccountError> {
        self.store
            .revoke_account_sessions(account_id, None, self.now)
            .await?;
        Ok(())
    }

    /// The account, once `password` is confirmed to be its password (a
    /// mismatch names `field`).
    async fn account_with_password(
        &self,
        account_id: &str,
        password: &str,
        field: &'static str,
    ) -> Result<AccountRow, AccountError> {
        let a = self
            .store
            .account_by_id(account_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        if !self
            .passwords
            .verify(password, Some(&a.password_hash))
            .await?
        {
            return Err(invalid(field, "is not your password"));
        }
        Ok(a)
    }

    /// Changes a password given the current one, and ends every other
    /// session (this one, `session`, stays).
    pub async fn change_password(
        &self,
        account_id: &str,
        session: Option<&str>,
        current: &str,
        new: &str,
    ) -> Result<(), AccountError> {
        let a = self
            .account_with_password(account_id, current, "current_password")
            .await?;
        check_password(new, &a.email, &a.handle).map_err(|_| {
            invalid(
                "new_password",
                "must be 10 to 128 characters and not your email or handle",
            )
        })?;
        let hash = self.passwords.hash(new).await?;
        self.store.set_password(account_id, &hash, self.now).await?;
        self.store
            .revoke_account_sessions(account_id, Some(session.unwrap_or("")), self.now)
            .await?;
        Ok(())
    }

    /// Mails a reset code when the address belongs to an account. Answers
    /// the same either way, so addresses cannot be probed.
    pub async fn request_password_reset(&self, email: &str) -> Result<(), AccountError> {
        let email = parse_email(email)?;
        let Some(a) = self.store.account_by_login(&email).await? else {
            return Ok(());
        };
        if a.standing == "deleted" || a.email != email {
            return Ok(());
        }
        let token = tokens::random_token();
        self.store
            .insert_account_token(
                &tokens::hash_token(&token),
                &a.id,
                "reset",
                self.now + RESET_TTL_MS,
            )
            .await?;
        self.store
            .queue_mail(
                &new_id(),
                &a.email,
                "Reset your Startales password",
                &format!(
                    "Someone asked to reset the password of {}.\n\nIf it was you, use this code: {token}\n\
                     (POST it with a new password to /api/v1/accounts/password-reset/confirm within an hour.)\n\
                     If it was not you, ignore this mail; nothing changes.\n",
                    a.handle
                ),
                self.now,
            )
            .await?;
        Ok(())
    }

    /// Sets a new password with a mailed reset code; every session ends.
    pub async fn confirm_password_reset(&self, token: &str, new: &str) -> Result<(), AccountError> {
        // Check the password before spending the code, so a typo does not
        // burn it.
        if !(10..=128).contains(&new.chars().count()) {
            return Err(invalid("new_password", "must be 10 to 128 characters long"));
        }
        let hash = tokens::hash_token(token.trim());
        let account_id = self
            .store
            .use_account_token(&hash, "reset", self.now)
            .await?
            .ok_or(AccountError::BadToken)?;
        let a = self
            .store
            .account_by_id(&account_id)
            .await?
            .ok_or(AccountError::BadToken)?;
        check_password(new, &a.email, &a.handle)
            .map_err(|_| invalid("new_password", "must not be your email or handle"))?;
        let hash = self.passwords.hash(new).await?;
        self.store.set_password(&a.id, &hash, self.now).await?;
        self.store
            .revoke_account_sessions(&a.id, None, self.now)
            .await?;
        Ok(())
    }

    /// Deletes an account after checking its password: personal data is
    /// erased, ids stay for money records and the audit log.
    pub async fn delete_account(
        &self,
        account_id: &str,
        password: &str,
    ) -> Result<(), AccountError> {
        let a = self
            .account_with_password(account_id, password, "password")
            .await?;
        self.store.erase_account(&a.id, &a.email, self.now).await?;
        crate::safety::audit(
            self.store,
            Some(&a.id),
            "account.delete",
            "account",
            &a.id,
            serde_json::json!({"by": "owner"}),
            self.now,
        )
        .await?;
        Ok(())
    }
}

/// A TOTP secret to enter in an authenticator app.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The secret, base32.
    pub secret: String,
    /// The same as an `otpauth://` URI (for a QR code).
    pub uri: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(parse_email(" Ana@Example.COM ").unwrap(), "ana@example.com");
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a b@example.com",
            "ana@@example.com",
            "ana@.example.com",
            "ana@example..com",
        ] {
            assert!(
                matches!(
                    parse_email(bad),
                    Err(AccountError::Invalid { field: "email", .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn handles_are_short_plain_and_start_with_a_letter() {
        assert_eq!(parse_handle("Nova_7").unwrap(), "Nova_7");
        for bad in ["ab", "7nova", "nova star", "n".repeat(25).as_str(), "növa"] {
            assert!(parse_handle(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_must_be_long_and_not_the_login() {
        assert!(check_password("correct horse battery", "a@b.co", "nova").is_ok());
        assert!(check_password("short", "a@b.co", "nova").is_err());
        assert!(check_password("novanovanova", "a@b.co", "NovaNovaNova").is_err());
        assert!(check_password(&"x".repeat(129), "a@b.co", "nova").is_err());
    }
}
