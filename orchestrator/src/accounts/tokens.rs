//! Access tokens (HS256 JWTs) and random opaque tokens.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Role;

/// How long an access token lives.
pub const ACCESS_TTL_MS: i64 = 15 * 60_000;

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The account id.
    pub sub: String,
    /// The account's role when the token was issued.
    pub role: Role,
    /// The log-in (refresh-token family) it belongs to.
    pub sid: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// Whether the log-in passed a second factor.
    #[serde(default)]
    pub mfa: bool,
}

/// The signing key for access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys([redacted])")
    }
}

impl TokenKeys {
    /// Keys from a secret of at least 32 bytes.
    pub fn new(secret: &[u8]) -> TokenKeys {
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// Signs an access token.
    pub fn issue(
        &self,
        account: &str,
        role: Role,
        session: &str,
        mfa: bool,
        now_ms: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = AccessClaims {
            sub: account.to_string(),
            role,
            mfa,
            sid: session.to_string(),
            iat: now_ms / 1000,
            exp: (now_ms + ACCESS_TTL_MS) / 1000,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Checks a token's signature and expiry against `now_ms`.
    pub fn verify(&self, token: &str, now_ms: i64) -> Option<AccessClaims> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked below against the injected clock.
        validation.validate_exp = false;
        validation.required_spec_claims = ["exp", "sub"].into_iter().map(String::from).collect();
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation).ok()?;
        (data.claims.exp * 1000 > now_ms).then_some(data.claims)
    }
}

/// 32 random bytes, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS generator only fails on broken systems; a zero token would be
    // caught by the unique index, never handed out twice.
    let _ = getrandom::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a token, hex: what the database stores.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_verify_until_they_expire() {
        let keys = TokenKeys::new(&[7; 32]);
        let t = keys.issue("a1", Role::Gm, "f1", false, 1_000_000).unwrap();
        let c = keys.verify(&t, 1_000_000).unwrap();
        assert_eq!(
            (c.sub.as_str(), c.role, c.sid.as_str()),
            ("a1", Role::Gm, "f1")
        );
        assert!(keys.verify(&t, 1_000_000 + ACCESS_TTL_MS).is_none());
        assert!(
            TokenKeys::new(&[8; 32]).verify(&t, 1_000_000).is_none(),
            "other key"
        );
        assert!(keys.verify("not.a.token", 0).is_none());
    }

    #[test]
    fn random_tokens_differ_and_hash_stably() {
        assert_ne!(random_token(), random_token());
        assert_eq!(hash_token("x"), hash_token("x"));
        assert_eq!(random_token().len(), 43);
    }
}
