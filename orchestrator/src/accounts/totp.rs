//! TOTP second factor (RFC 6238: SHA-1, 6 digits, 30-second steps, one step
//! of clock skew either way), required of admins.

use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Issuer shown in authenticator apps.
pub const ISSUER: &str = "Startales";

/// A new random 160-bit secret, base32.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    // Only broken systems fail here; the secret is then refused at use.
    let _ = getrandom::fill(&mut bytes);
    Secret::from(bytes.to_vec()).to_base32()
}

fn totp(secret_base32: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret_base32).ok()?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .build()
        .ok()
}

/// The time step (counter) a code is valid for at `now_ms`, if it is valid.
pub fn check(secret_base32: &str, code: &str, now_ms: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret_base32)?;
    let now = u64::try_from(now_ms / 1000).ok()?;
    t.check(code, now).and_then(|step| i64::try_from(step).ok())
}

/// The code for `now_ms` (what an authenticator app shows).
pub fn code_at(secret_base32: &str, now_ms: i64) -> Option<String> {
    let t = totp(secret_base32)?;
    Some(t.generate(u64::try_from(now_ms / 1000).ok()?).to_string())
}

/// The `otpauth://` URI authenticator apps scan.
pub fn uri(secret_base32: &str, account: &str) -> String {
    format!(
        "otpauth://totp/{ISSUER}:{account}?secret={secret_base32}&issuer={ISSUER}&algorithm=SHA1&digits=6&period=30"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_6238_sha1_vector_checks() {
        // RFC 6238 appendix B: secret "12345678901234567890", T = 59 s
        // gives 94287082; its last six digits are the 6-digit code.
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        assert_eq!(code_at(&secret, 59_000).as_deref(), Some("287082"));
        assert_eq!(check(&secret, "287082", 59_000), Some(1));
    }

    #[test]
    fn codes_work_one_step_either_side_and_not_beyond() {
        let s = new_secret();
        let now = 1_795_000_000_000;
        let code = code_at(&s, now).unwrap();
        assert!(check(&s, &code, now + 30_000).is_some());
        assert!(check(&s, &code, now - 30_000).is_some());
        assert!(check(&s, &code, now + 95_000).is_none());
        assert!(check(&s, "12345", now).is_none());
        assert!(check(&s, "abcdef", now).is_none());
        assert!(check("not base32!", &code, now).is_none());
    }
}
