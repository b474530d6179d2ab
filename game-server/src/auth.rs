//! Join-token verification: EdDSA (Ed25519) JWTs signed by the orchestrator.
//!
//! [`Verifier::verify`] checks the signature, expiry and campaign; the
//! one-use rule (a replayed `jti` is refused) is enforced by the game engine,
//! which remembers used ids in the campaign database so it survives restarts.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, errors::ErrorKind};

use crate::protocol::{JoinClaims, close_code};

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not a JWT, or claims missing or of the wrong type.
    #[error("malformed join token: {0}")]
    Malformed(String),
    /// The signature does not verify with the orchestrator's key.
    #[error("join token signature is invalid")]
    Forged,
    /// Past its expiry.
    #[error("join token has expired")]
    Expired,
    /// Issued for another campaign.
    #[error("join token is for campaign {0:?}, not this one")]
    WrongCampaign(String),
    /// Used before.
    #[error("join token was already used")]
    Replayed,
}

impl AuthError {
    /// The WebSocket close code for this refusal.
    pub fn close_code(&self) -> u16 {
        match self {
            AuthError::WrongCampaign(_) => close_code::WRONG_CAMPAIGN,
            _ => close_code::BAD_TOKEN,
        }
    }
}

/// Why the orchestrator's public key could not be read.
#[derive(Debug, thiserror::Error)]
#[error("join-token public key: {0}")]
pub struct KeyError(String);

/// Checks join tokens for one campaign.
#[derive(Clone)]
pub struct Verifier {
    key: DecodingKey,
    campaign: String,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("campaign", &self.campaign)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier from the orchestrator's Ed25519 public key: either a PEM
    /// (`-----BEGIN PUBLIC KEY-----`) or the raw 32-byte key in base64 or
    /// base64url.
    pub fn new(public_key: &str, campaign: &str) -> Result<Verifier, KeyError> {
        let text = public_key.trim();
        let key = if text.starts_with("-----BEGIN") {
            DecodingKey::from_ed_pem(text.as_bytes()).map_err(|e| KeyError(e.to_string()))?
        } else {
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
                .map_err(|e| KeyError(format!("not PEM or base64: {e}")))?;
            if raw.len() != 32 {
                return Err(KeyError(format!(
                    "an Ed25519 public key has 32 bytes, not {}",
                    raw.len()
                )));
            }
            DecodingKey::from_ed_der(&raw)
        };
        Ok(Verifier {
            key,
            campaign: campaign.to_owned(),
        })
    }

    /// Checks signature, expiry and campaign.
    pub fn verify(&self, token: &str) -> Result<JoinClaims, AuthError> {
        let mut v = Validation::new(Algorithm::EdDSA);
        v.leeway = 0;
        v.validate_exp = true;
        v.set_required_spec_claims(&["exp", "sub", "jti"]);
        let data = decode::<JoinClaims>(token, &self.key, &v).map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => AuthError::Forged,
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::InvalidAlgorithm => AuthError::Forged,
            _ => AuthError::Malformed(e.to_string()),
        })?;
        let claims = data.claims;
        if claims.campaign != self.campaign {
            return Err(AuthError::WrongCampaign(claims.campaign));
        }
        if claims.jti.is_empty() || claims.jti.len() > 128 || claims.sub.is_empty() {
            return Err(AuthError::Malformed("empty or oversized jti or sub".into()));
        }
        Ok(claims)
    }
}
