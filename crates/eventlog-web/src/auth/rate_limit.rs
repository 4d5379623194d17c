//! What protects the login form from floods and password guessing, in memory (a restart
//! forgets it, which is acceptable for slowing guessing down):
//!
//! - a throttle per user name and one per client address (GCRA, from `governor`): a burst of
//!   attempts, then one more each period. Every attempt is counted *before* the password is
//!   checked, so concurrent attempts cannot slip past the limit. A throttled user waits a few
//!   seconds and gets in with the right password; nobody is locked out for minutes.
//! - tables of bounded size: keys are a keyed 64-bit hash of the (lower-cased) user name and the
//!   client's IP address, and a table that is full refuses new attempts until old entries expire.
//! - a cap on concurrent password checks (each Argon2 check takes 19 MiB and a CPU for tens of
//!   milliseconds): attempts beyond it are refused at once with 503 and `Retry-After`.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Longest user name the login form accepts, in characters; longer ones are refused before
/// any lookup or hashing.
pub const MAX_USERNAME_CHARS: usize = 150;
/// Longest password the login form accepts, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A throttle: `burst` attempts at once, then one more every `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Attempts allowed in a row.
    pub burst: u32,
    /// Time after which one more attempt is allowed.
    pub period: Duration,
}

/// The login protections' settings ([`crate::AppStateBuilder::login_limits`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginLimits {
    /// Attempts per user name, from any address. Default: 5, then one per 12 s.
    pub per_user: Throttle,
    /// Attempts per client address, for any user name. Default: 20, then one per 3 s. Behind a
    /// reverse proxy every client has the proxy's address, so this limit is shared.
    pub per_address: Throttle,
    /// Most user names (and, separately, addresses) remembered at once. Default 100,000
    /// (a few MiB).
    pub max_tracked: usize,
    /// Password checks running at once. Default: the number of CPUs.
    pub concurrent_checks: usize,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            per_user: Throttle {
                burst: 5,
                period: Duration::from_secs(12),
            },
            per_address: Throttle {
                burst: 20,
                period: Duration::from_secs(3),
            },
            max_tracked: 100_000,
            concurrent_checks: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        }
    }
}

/// Why an attempt was refused before its password was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many attempts for this user or from this address: try again after the duration.
    Throttled(Duration),
    /// Too many password checks are running: try again in a second.
    Busy,
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// The login protections, shared by every request.
#[derive(Debug)]
pub struct LoginGuard {
    per_user: Keyed<u64>,
    per_address: Keyed<IpAddr>,
    max_tracked: usize,
    checks: Arc<Semaphore>,
    clock: DefaultClock,
    hasher: std::hash::RandomState,
}

impl Default for LoginGuard {
    fn default() -> Self {
        LoginGuard::new(&LoginLimits::default())
    }
}

fn quota(t: Throttle) -> Quota {
    let period = t.period.max(Duration::from_nanos(1));
    let burst = NonZeroU32::new(t.burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

/// Counts one attempt for `key`, keeping the table within `max`.
fn count<K>(limiter: &Keyed<K>, key: &K, max: usize, clock: &DefaultClock) -> Result<(), Duration>
where
    K: std::hash::Hash + Eq + Clone,
{
    if limiter.len() >= max {
        limiter.retain_recent();
        if limiter.len() >= max {
            // Entries leave once their throttle has fully recovered; until then new keys wait.
            return Err(Duration::from_secs(60));
        }
    }
    limiter
        .check_key(key)
        .map_err(|not_until| not_until.wait_time_from(clock.now()))
}

impl LoginGuard {
    /// Protections with these settings.
    pub fn new(limits: &LoginLimits) -> Self {
        LoginGuard {
            per_user: RateLimiter::keyed(quota(limits.per_user)),
            per_address: RateLimiter::keyed(quota(limits.per_address)),
            max_tracked: limits.max_tracked.max(1),
            checks: Arc::new(Semaphore::new(limits.concurrent_checks.max(1))),
            clock: DefaultClock::default(),
            hasher: std::hash::RandomState::new(),
        }
    }

    /// Counts an attempt by `user` from `addr` and, when allowed, reserves one of the
    /// password-check slots (held until the returned permit is dropped).
    pub fn attempt(&self, user: &str, addr: IpAddr) -> Result<OwnedSemaphorePermit, Refusal> {
        let user_key = self.hasher.hash_one(user.to_lowercase());
        // Both are counted even when the first refuses: a refused attempt is still an attempt.
        let by_addr = count(&self.per_address, &addr, self.max_tracked, &self.clock);
        let by_user = count(&self.per_user, &user_key, self.max_tracked, &self.clock);
        if let Err(wait) = by_addr.and(by_user) {
            return Err(Refusal::Throttled(wait.max(Duration::from_secs(1))));
        }
        self.checks
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::Busy)
    }

    /// User names and addresses currently remembered (for tests and metrics).
    pub fn tracked(&self) -> (usize, usize) {
        (self.per_user.len(), self.per_address.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(user_burst: u32, addr_burst: u32) -> LoginLimits {
        LoginLimits {
            per_user: Throttle {
                burst: user_burst,
                period: Duration::from_secs(60),
            },
            per_address: Throttle {
                burst: addr_burst,
                period: Duration::from_secs(60),
            },
            max_tracked: 3,
            concurrent_checks: 1,
        }
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(1, 2, 3, 4));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(5, 6, 7, 8));

    #[test]
    fn throttles_per_user_and_per_address() {
        let g = LoginGuard::new(&LoginLimits {
            max_tracked: 100,
            ..limits(2, 3)
        });
        drop(g.attempt("alice", A).unwrap());
        drop(g.attempt("Alice", B).unwrap());
        // Third attempt for alice, from anywhere: throttled, with a wait.
        match g.attempt("ALICE", A) {
            Err(Refusal::Throttled(wait)) => assert!(wait >= Duration::from_secs(1), "{wait:?}"),
            other => panic!("{other:?}"),
        }
        // The refused attempt still counted for A: its third and last is bob's.
        drop(g.attempt("bob", A).unwrap());
        assert!(matches!(g.attempt("carol", A), Err(Refusal::Throttled(_))));
        drop(g.attempt("carol", B).unwrap());
    }

    #[test]
    fn concurrent_checks_are_capped() {
        let g = LoginGuard::new(&limits(10, 10));
        let held = g.attempt("a", A).unwrap();
        assert!(matches!(g.attempt("b", A), Err(Refusal::Busy)));
        drop(held);
        assert!(g.attempt("c", A).is_ok());
    }

    #[test]
    fn tables_stay_bounded() {
        let g = LoginGuard::new(&limits(10, 100));
        for i in 0..10 {
            let _ = g.attempt(&format!("user{i}"), A);
        }
        let (users, addrs) = g.tracked();
        assert!(users <= 3, "{users}");
        assert_eq!(addrs, 1);
    }
}
