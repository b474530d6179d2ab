//! The GDPR export: everything stored about one account, as JSON.

use serde_json::{Value, json};

use super::AccountError;
use super::api_keys::ApiKey;
use super::profile::Profile;
use crate::safety::Report;
use crate::store::Store;

/// Collects an account's data. Secrets (password and token hashes, the
/// TOTP secret, API key hashes) are left out: they are not personal data
/// the owner can use, and exporting them would weaken the account.
pub async fn export(store: &Store, account_id: &str, now: i64) -> Result<Value, AccountError> {
    let a = store
        .account_by_id(account_id)
        .await?
        .ok_or(AccountError::NotFound)?;
    let profile = store
        .profile(account_id)
        .await?
        .map(|p| Profile::from_row(&p));
    let sessions: Vec<Value> = store
        .sessions(account_id)
        .await?
        .into_iter()
        .map(|(id, created, expires, revoked)| {
            json!({"id": id, "created_at": created, "expires_at": expires, "revoked_at": revoked})
        })
        .collect();
    let keys: Vec<ApiKey> = store
        .api_keys(account_id)
        .await?
        .into_iter()
        .map(ApiKey::from)
        .collect();
    let friends = crate::social::friend_lists(store, account_id).await?;
    let blocks: Vec<Value> = store
        .blocks_of(account_id)
        .await?
        .into_iter()
        .map(|(id, handle, since)| json!({"id": id, "handle": handle, "since": since}))
        .collect();
    let party = match store.party_of(account_id).await? {
        Some(p) => Some(crate::social::party_view(store, &p).await?),
        None => None,
    };
    let reports: Vec<Report> = store
        .reports_by(account_id)
        .await?
        .into_iter()
        .map(Report::from)
        .collect();
    let sanctions: Vec<Value> = store
        .sanctions_of(account_id)
        .await?
        .into_iter()
        .map(|s| {
            json!({"action": s.action, "reason": s.reason, "until": s.until_at, "at": s.created_at})
        })
        .collect();
    let mail: Vec<Value> = store
        .mail_to(&a.email)
        .await?
        .into_iter()
        .map(|(subject, at)| json!({"subject": subject, "created_at": at}))
        .collect();
    Ok(json!({
        "exported_at": now,
        "account": {
            "id": a.id,
            "email": a.email,
            "handle": a.handle,
            "role": a.role,
            "email_verified": a.email_verified,
            "standing": a.standing,
            "suspended_until": a.suspended_until,
            "second_factor": a.totp_enabled,
            "created_at": a.created_at,
        },
        "profile": profile,
        "sessions": sessions,
        "api_keys": keys,
        "friends": friends,
        "blocks": blocks,
        "party": party,
        "reports_filed": reports,
        "sanctions": sanctions,
        "mail": mail,
    }))
}
