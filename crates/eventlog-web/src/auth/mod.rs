//! Logins: Argon2 passwords, sessions in the store behind an HttpOnly cookie, per-session
//! CSRF tokens, and a login rate limit.

pub mod host;
pub mod password;
pub(crate) mod proxy;
pub mod rate_limit;
pub mod session;

pub use rate_limit::{LoginGuard, LoginLimits, Throttle};
pub use session::{CurrentUser, SESSION_COOKIE};

/// 256 random bits as 64 hex characters (two v4 UUIDs: 244 bits from the OS generator).
pub fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// SHA-256 of a session token, as stored: a leaked database holds no usable session.
pub fn hash_token(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), a);
        assert!(constant_time_eq(&a, &a.clone()));
        assert!(!constant_time_eq(&a, &b));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
