//! Password hashing with Argon2id, off the async threads.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::AccountError;

/// Argon2id with fixed parameters.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    /// A hash of a random password, checked when a login is unknown so that
    /// unknown and known logins take the same time.
    decoy: String,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("m_cost", &self.params.m_cost())
            .field("t_cost", &self.params.t_cost())
            .finish()
    }
}

impl Passwords {
    /// OWASP's recommended Argon2id parameters: 19 MiB, 2 passes, 1 lane.
    pub const OWASP: (u32, u32, u32) = (19_456, 2, 1);

    /// Hashing with memory (KiB), passes and lanes.
    pub fn new(m_kib: u32, t: u32, p: u32) -> Result<Passwords, AccountError> {
        let params =
            Params::new(m_kib, t, p, None).map_err(|e| AccountError::Hashing(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let salt = SaltString::generate(&mut OsRng);
        let decoy = argon
            .hash_password(uuid::Uuid::new_v4().as_bytes(), &salt)
            .map_err(|e| AccountError::Hashing(e.to_string()))?
            .to_string();
        Ok(Passwords { params, decoy })
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: &str) -> Result<String, AccountError> {
        let argon = self.argon();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| AccountError::Hashing(e.to_string()))
        })
        .await
        .map_err(|e| AccountError::Hashing(e.to_string()))?
    }

    /// Checks a password against a stored hash, or against the decoy when
    /// there is none (always false then).
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, AccountError> {
        let argon = self.argon();
        let password = password.to_owned();
        let real = stored.is_some();
        let hash = stored.unwrap_or(&self.decoy).to_owned();
        tokio::task::spawn_blocking(move || {
            let parsed =
                PasswordHash::new(&hash).map_err(|e| AccountError::Hashing(e.to_string()))?;
            Ok(argon.verify_password(password.as_bytes(), &parsed).is_ok() && real)
        })
        .await
        .map_err(|e| AccountError::Hashing(e.to_string()))?
    }
}
