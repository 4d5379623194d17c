//! Failed logins per (user name, client address), in memory: a process restart forgets them,
//! which is acceptable for slowing down password guessing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Allows `max_failures` failed logins per key within `window`; then refuses until the oldest
/// failure leaves the window.
#[derive(Debug)]
pub struct LoginRateLimit {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Default for LoginRateLimit {
    /// 5 failures per 5 minutes.
    fn default() -> Self {
        LoginRateLimit::new(5, Duration::from_secs(300))
    }
}

impl LoginRateLimit {
    /// A limit of `max_failures` per `window`.
    pub fn new(max_failures: usize, window: Duration) -> Self {
        LoginRateLimit {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn key(user: &str, addr: &str) -> String {
        format!("{}\u{0}{addr}", user.to_lowercase())
    }

    /// Whether another attempt is allowed now.
    pub fn allowed(&self, user: &str, addr: &str) -> bool {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Forget old entries so the map cannot grow without bound.
        map.retain(|_, v| {
            v.retain(|t| now.duration_since(*t) < self.window);
            !v.is_empty()
        });
        map.get(&Self::key(user, addr))
            .is_none_or(|v| v.len() < self.max_failures)
    }

    /// Records a failed attempt.
    pub fn failed(&self, user: &str, addr: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(Self::key(user, addr))
            .or_default()
            .push(Instant::now());
    }

    /// Forgets the failures of a key after a successful login.
    pub fn succeeded(&self, user: &str, addr: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Self::key(user, addr));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_per_key() {
        let rl = LoginRateLimit::new(2, Duration::from_secs(60));
        assert!(rl.allowed("alice", "1.2.3.4"));
        rl.failed("alice", "1.2.3.4");
        rl.failed("Alice", "1.2.3.4");
        assert!(!rl.allowed("alice", "1.2.3.4"));
        assert!(rl.allowed("alice", "5.6.7.8"), "other address");
        assert!(rl.allowed("bob", "1.2.3.4"), "other user");
        rl.succeeded("alice", "1.2.3.4");
        assert!(rl.allowed("alice", "1.2.3.4"));
    }

    #[test]
    fn failures_expire() {
        let rl = LoginRateLimit::new(1, Duration::from_millis(20));
        rl.failed("a", "x");
        assert!(!rl.allowed("a", "x"));
        std::thread::sleep(Duration::from_millis(30));
        assert!(rl.allowed("a", "x"));
    }
}
