//! Players in: short-lived join tokens (Ed25519 JWTs that the game server
//! verifies with the orchestrator's public key) for a confirmed seat, or
//! for the game master, while the campaign's server runs; the WebSocket
//! proxy in `http::play` carries the connection.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use game_server::protocol::{JoinClaims, Role};
use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::{AccountError, new_id};
use crate::runtime::Runtime;
use crate::scheduler::decide::{Desired, Timing};
use crate::store::Store;

/// How long a join token is good for, ms.
pub const JOIN_TOKEN_TTL_MS: i64 = 60_000;

/// The orchestrator's join-token key pair.
#[derive(Clone)]
pub struct JoinKeys {
    encoding: EncodingKey,
    public_b64: String,
}

impl std::fmt::Debug for JoinKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinKeys")
            .field("public", &self.public_b64)
            .finish_non_exhaustive()
    }
}

impl JoinKeys {
    /// Keys from a PKCS#8 Ed25519 private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<JoinKeys, String> {
        let pair =
            Ed25519KeyPair::from_pkcs8(der).map_err(|e| format!("not an Ed25519 key: {e}"))?;
        Ok(JoinKeys {
            encoding: EncodingKey::from_ed_der(der),
            public_b64: base64::engine::general_purpose::STANDARD
                .encode(pair.public_key().as_ref()),
        })
    }

    /// A new key pair; returns it with its PKCS#8 bytes (to keep).
    pub fn generate() -> Result<(JoinKeys, Vec<u8>), String> {
        let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| "no randomness for an Ed25519 key".to_string())?;
        let keys = JoinKeys::from_pkcs8(der.as_ref())?;
        Ok((keys, der.as_ref().to_vec()))
    }

    /// The public key, base64, as game servers take it.
    pub fn public_key(&self) -> &str {
        &self.public_b64
    }

    /// A token admitting `account` to `campaign` as `role` until `now` +
    /// [`JOIN_TOKEN_TTL_MS`]; used once.
    pub fn issue(
        &self,
        campaign: &str,
        account: &str,
        role: Role,
        now: i64,
    ) -> Result<String, String> {
        let secs = |ms: i64| u64::try_from(ms.div_euclid(1_000)).unwrap_or(0);
        let claims = JoinClaims {
            sub: account.to_string(),
            campaign: campaign.to_string(),
            role,
            exp: secs(now + JOIN_TOKEN_TTL_MS),
            iat: Some(secs(now)),
            jti: new_id(),
        };
        jsonwebtoken::encode(
            &Header::new(jsonwebtoken::Algorithm::EdDSA),
            &claims,
            &self.encoding,
        )
        .map_err(|e| e.to_string())
    }
}

/// A join token and where to use it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JoinGrant {
    /// The token: send it in the first frame (`{"type":"hello","version":1,"token":...}`).
    pub token: String,
    /// player or gm.
    pub role: String,
    /// Until when it may be used, Unix ms.
    pub expires_at: i64,
    /// The WebSocket to open (on this server).
    pub play_path: String,
}

/// A join token for `me` in campaign `id` now: a confirmed seat (or the
/// game master), while the campaign's server is up.
pub async fn join_token(
    store: &Store,
    runtime: &dyn Runtime,
    keys: &JoinKeys,
    id: &str,
    me: &str,
    now: i64,
    timing: Timing,
) -> Result<JoinGrant, AccountError> {
    let c = store.campaign(id).await?.ok_or(AccountError::NotFound)?;
    let role = if c.gm_id == me {
        Role::Gm
    } else {
        match store.live_seat(id, me).await? {
            Some(s) if s.status == "confirmed" => Role::Player,
            Some(_) => {
                return Err(AccountError::Conflict(
                    "your seat is held but not paid yet; pay to play".into(),
                ));
            }
            None => return Err(AccountError::NotFound),
        }
    };
    if crate::scheduler::desired_for(&c, now, timing)? != Desired::Running {
        return Err(AccountError::Conflict(format!(
            "no session of {} is on now; sessions open {} minutes before they start",
            c.title,
            timing.lead_ms / 60_000
        )));
    }
    match runtime
        .state(id)
        .await
        .map_err(|e| AccountError::Unavailable(e.to_string()))?
    {
        Some(s) if s.ready => {}
        _ => {
            return Err(AccountError::Unavailable(
                "the campaign's server is starting; try again in a few seconds".into(),
            ));
        }
    }
    let token = keys
        .issue(id, me, role, now)
        .map_err(|e| AccountError::Unavailable(format!("signing the join token: {e}")))?;
    Ok(JoinGrant {
        token,
        role: if role == Role::Gm { "gm" } else { "player" }.into(),
        expires_at: now + JOIN_TOKEN_TTL_MS,
        play_path: format!("/api/v1/campaigns/{id}/play"),
    })
}
