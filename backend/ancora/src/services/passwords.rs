//! Password hashing: argon2id with OWASP's minimum parameters (19 MiB, 2 passes, 1 lane),
//! stored as PHC strings so parameters can be raised later without breaking old hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory cost in KiB (19 MiB).
pub const M_COST: u32 = 19 * 1024;
/// Passes.
pub const T_COST: u32 = 2;
/// Lanes.
pub const P_COST: u32 = 1;

/// Shortest password accepted.
pub const MIN_LEN: usize = 12;
/// Longest password accepted (argon2 takes any length; this bounds the work per request).
pub const MAX_LEN: usize = 1024;

/// Hashing failed (parameters rejected by the library; not expected with the constants above).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

fn argon2() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(M_COST, T_COST, P_COST, None).map_err(|e| HashError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with a fresh random salt; returns the PHC string to store.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| HashError(e.to_string()))?;
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// True when `password` matches the stored PHC string `phc` (with the parameters recorded in
/// it). An unreadable `phc` is a mismatch.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same work as a real verification, for logins of unknown accounts, so the
/// response time does not tell whether an account exists.
pub fn burn_verification(password: &str) {
    if let Ok(a) = argon2() {
        let salt = SaltString::encode_b64(&[0u8; 16]);
        if let Ok(salt) = salt {
            let _ = a.hash_password(password.as_bytes(), &salt);
        }
    }
}

/// Checks a new password against the policy; the error is a sentence for the person.
pub fn check_policy(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(format!(
            "Choose a password of at least {MIN_LEN} characters."
        ));
    }
    if n > MAX_LEN {
        return Err(format!(
            "Choose a password of at most {MAX_LEN} characters."
        ));
    }
    Ok(())
}

/// A random password: 18 random bytes as 24 base64url characters.
pub fn generate_password() -> secrecy::SecretString {
    use base64::Engine as _;
    let bytes: [u8; 18] = rand::random();
    secrecy::SecretString::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_and_nothing_else() {
        let h = hash_password("correct horse battery").expect("hashes");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn short_passwords_are_refused_with_a_reason() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("long enough password").is_ok());
    }
}
