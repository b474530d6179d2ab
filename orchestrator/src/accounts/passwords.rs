//! Password hashing with Argon2id, off the async threads.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::AccountError;

/// Argon2id with fixed parameters.
///
/// At most one hash runs per core at a time: Argon2id is memory-hard, and
/// more parallel hashes than cores only evict each other's memory from the
/// caches, so everyone waits longer. Verification reuses one memory area
/// per core instead of allocating (and page-faulting in) the whole cost,
/// 19 MiB at OWASP's parameters, on every log-in: that alone doubled the
/// time of a log-in.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    slots: std::sync::Arc<tokio::sync::Semaphore>,
    memory: std::sync::Arc<std::sync::Mutex<Vec<Vec<Block>>>>,
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
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Passwords {
            params,
            decoy,
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(cores)),
            memory: std::sync::Arc::default(),
        })
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: &str) -> Result<String, AccountError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| AccountError::Hashing(e.to_string()))?;
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
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| AccountError::Hashing(e.to_string()))?;
        let argon = self.argon();
        let password = password.to_owned();
        let real = stored.is_some();
        let hash = stored.unwrap_or(&self.decoy).to_owned();
        let (params, memory) = (self.params.clone(), std::sync::Arc::clone(&self.memory));
        tokio::task::spawn_blocking(move || {
            let parsed =
                PasswordHash::new(&hash).map_err(|e| AccountError::Hashing(e.to_string()))?;
            let ok = match pooled_verify(&argon, &params, &memory, password.as_bytes(), &parsed) {
                Some(ok) => ok,
                // Hashes made with other parameters take the allocating path.
                None => argon.verify_password(password.as_bytes(), &parsed).is_ok(),
            };
            Ok(ok && real)
        })
        .await
        .map_err(|e| AccountError::Hashing(e.to_string()))?
    }
}

/// Verifies with a pooled memory area when the hash uses our parameters;
/// `None` when it does not (or is malformed in a way the allocating path
/// should judge).
fn pooled_verify(
    argon: &Argon2<'_>,
    params: &Params,
    memory: &std::sync::Mutex<Vec<Vec<Block>>>,
    password: &[u8],
    parsed: &PasswordHash<'_>,
) -> Option<bool> {
    let mut blocks = memory
        .lock()
        .ok()
        .and_then(|mut m| m.pop())
        .unwrap_or_else(|| vec![Block::default(); params.block_count()]);
    let result = verify_in(argon, params, &mut blocks, password, parsed);
    if let Ok(mut m) = memory.lock() {
        m.push(blocks);
    }
    result
}

/// Argon2id verification of `parsed` in the caller's memory area (grown to
/// the parameters' size if short): the whole cost of a verification and
/// nothing else, as the log-in path pays it and as the log-in benchmark
/// measures it beside log-ins. `None` when the hash is not Argon2id v19 at
/// `params` or is malformed.
pub fn verify_in(
    argon: &Argon2<'_>,
    params: &Params,
    blocks: &mut Vec<Block>,
    password: &[u8],
    parsed: &PasswordHash<'_>,
) -> Option<bool> {
    let ours = parsed.algorithm == argon2::ARGON2ID_IDENT
        && parsed.version == Some(0x13)
        && parsed.params.get_decimal("m") == Some(params.m_cost())
        && parsed.params.get_decimal("t") == Some(params.t_cost())
        && parsed.params.get_decimal("p") == Some(params.p_cost());
    if !ours {
        return None;
    }
    let expected = parsed.hash?;
    let mut salt_buf = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt_buf).ok()?;
    if blocks.len() < params.block_count() {
        blocks.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    argon
        .hash_password_into_with_memory(password, salt, &mut out, blocks.as_mut_slice())
        .ok()?;
    // `Output` compares in constant time.
    Some(argon2::password_hash::Output::new(&out).ok()? == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_pooled_path_agrees_with_the_allocating_one() {
        let p = Passwords::new(1024, 1, 1).unwrap();
        let h = p.hash("correct horse battery").await.unwrap();
        assert!(p.verify("correct horse battery", Some(&h)).await.unwrap());
        assert!(!p.verify("wrong horse battery", Some(&h)).await.unwrap());
        assert!(!p.verify("correct horse battery", None).await.unwrap());
        // A hash with other parameters still verifies (allocating path).
        let other = Passwords::new(2048, 1, 1).unwrap();
        let h2 = other.hash("correct horse battery").await.unwrap();
        assert!(p.verify("correct horse battery", Some(&h2)).await.unwrap());
        assert!(!p.verify("nope nope nope", Some(&h2)).await.unwrap());
        // Sequential verifications with our parameters reused one area.
        assert_eq!(p.memory.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn verifying_in_a_callers_area_grows_it_once_and_judges_only_our_parameters() {
        let p = Passwords::new(1024, 1, 1).unwrap();
        let h = p.hash("correct horse battery").await.unwrap();
        let parsed = PasswordHash::new(&h).unwrap();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p.params.clone());
        let mut blocks = Vec::new();
        let right = verify_in(
            &argon,
            &p.params,
            &mut blocks,
            b"correct horse battery",
            &parsed,
        );
        assert_eq!(right, Some(true));
        assert_eq!(blocks.len(), p.params.block_count());
        let wrong = verify_in(
            &argon,
            &p.params,
            &mut blocks,
            b"wrong horse battery",
            &parsed,
        );
        assert_eq!(wrong, Some(false));
        let other = Params::new(2048, 1, 1, None).unwrap();
        assert_eq!(
            verify_in(
                &argon,
                &other,
                &mut blocks,
                b"correct horse battery",
                &parsed
            ),
            None
        );
    }
}
