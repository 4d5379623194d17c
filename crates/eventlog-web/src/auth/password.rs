//! Argon2id password hashes (PHC strings), shared by the login page and `eventlog user`.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// A password that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Empty or too short.
    #[error("password is {0} characters long; it must be at least 8 characters")]
    TooShort(usize),
    /// Hashing failed (should not happen).
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// Minimum password length in characters.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Hashes a password with Argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort(len));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored hash (a malformed hash never matches).
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the user does not exist, so that a
/// login for an unknown name takes as long as one for a known name.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&super::random_token()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_short_passwords_are_refused() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse!", &h));
        assert!(!verify_password("correct horse", "not a hash"));
        let err = hash_password("short").unwrap_err();
        assert_eq!(
            err.to_string(),
            "password is 5 characters long; it must be at least 8 characters"
        );
    }
}
