//! API keys for programmatic access: random, shown once, stored hashed,
//! scoped (`read`: GET only; `write`: everything a session may do except
//! managing keys, passwords, the account itself and admin work), revocable.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AccountError, invalid, new_id, tokens};
use crate::store::Store;
use crate::store::accounts::ApiKeyRow;

/// Every key starts with this, so it is recognisable (and scannable) in
/// leaked text.
pub const KEY_PREFIX: &str = "stk_";

/// At most this many live keys per account.
pub const MAX_KEYS: usize = 20;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// GET requests.
    Read,
    /// Requests that change things.
    Write,
}

impl Scope {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    /// Parses stored scopes (unknown words are dropped).
    pub fn parse_list(s: &str) -> Vec<Scope> {
        s.split_whitespace()
            .filter_map(|w| match w {
                "read" => Some(Scope::Read),
                "write" => Some(Scope::Write),
                _ => None,
            })
            .collect()
    }
}

/// A request for a new key.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// A name to recognise it by, 1-60 characters.
    pub name: String,
    /// Scopes (at least one).
    pub scopes: Vec<Scope>,
}

/// A key as its owner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKey {
    /// Id (for revoking).
    pub id: String,
    /// Name.
    pub name: String,
    /// The key's first characters.
    pub prefix: String,
    /// Scopes.
    pub scopes: Vec<Scope>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last used, Unix ms (to the minute).
    pub last_used_at: Option<i64>,
    /// Revoked, Unix ms.
    pub revoked_at: Option<i64>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        ApiKey {
            scopes: Scope::parse_list(&r.scopes),
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// A new key, with the secret shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The key's record.
    #[serde(flatten)]
    pub key: ApiKey,
    /// The key itself: send it as `Authorization: Bearer <key>`.
    pub secret: String,
}

/// Makes a key for an account.
pub async fn create(
    store: &Store,
    account_id: &str,
    req: NewApiKey,
    now: i64,
) -> Result<CreatedApiKey, AccountError> {
    let name = req.name.trim().to_string();
    let n = name.chars().count();
    if n == 0 || n > 60 || name.chars().any(char::is_control) {
        return Err(invalid("name", "must be 1 to 60 characters"));
    }
    let mut scopes = req.scopes;
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(invalid("scopes", "give at least one of read, write"));
    }
    let live = store
        .api_keys(account_id)
        .await?
        .iter()
        .filter(|k| k.revoked_at.is_none())
        .count();
    if live >= MAX_KEYS {
        return Err(AccountError::Conflict(format!(
            "an account has at most {MAX_KEYS} live keys; revoke one first"
        )));
    }
    let secret = format!("{KEY_PREFIX}{}", tokens::random_token());
    let row = ApiKeyRow {
        id: new_id(),
        account_id: account_id.to_string(),
        name,
        prefix: secret.chars().take(KEY_PREFIX.len() + 6).collect(),
        scopes: scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    store
        .insert_api_key(&row, &tokens::hash_token(&secret))
        .await?;
    Ok(CreatedApiKey {
        key: row.into(),
        secret,
    })
}
