//! Failure counts by key, turned into delays: after a few failures of one
//! key, further attempts for it are refused for a delay that doubles with
//! each failure, up to a bound. [`crate::throttle`] decides what the keys
//! are (a principal from one address, a principal from everywhere).
//!
//! Memory is bounded: the table never holds more than [`MAX_ENTRIES`],
//! forgetting the stalest entry first.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
};

/// Most principals tracked at once.
const MAX_ENTRIES: usize = 10_000;

/// How failures turn into delays.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BackoffPolicy {
    /// Failures tolerated before any delay (typos happen).
    pub(crate) free_failures: u32,
    /// The first delay, in seconds; each further failure doubles it.
    pub(crate) base_secs: i64,
    /// The longest delay, in seconds.
    pub(crate) max_secs: i64,
    /// A principal with no failure for this long starts afresh.
    pub(crate) forget_after_secs: i64,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self {
            free_failures: 3,
            base_secs: 1,
            max_secs: 60,
            forget_after_secs: 15 * 60,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: i64,
    blocked_until: i64,
}

/// Failure counts per principal.
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: BackoffPolicy,
    entries: Mutex<HashMap<String, Entry>>,
}

impl Backoff {
    pub(crate) fn new(policy: BackoffPolicy) -> Self {
        Self {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` while `key` is blocked at `now`.
    pub(crate) fn check(&self, key: &str, now: i64) -> Result<(), i64> {
        match self.lock().get(key) {
            Some(entry) if entry.blocked_until > now => Err(entry.blocked_until - now),
            _ => Ok(()),
        }
    }

    /// Counts a failed attempt for `key` at `now`.
    pub(crate) fn failure(&self, key: &str, now: i64) {
        let policy = self.policy;
        let mut entries = self.lock();
        if !entries.contains_key(key) && entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| now - e.last_failure < policy.forget_after_secs);
            if entries.len() >= MAX_ENTRIES {
                // A flood of new keys must not free a blocked one: the
                // stalest entry that blocks nothing goes first.
                let stalest = entries
                    .iter()
                    .min_by_key(|(_, e)| (e.blocked_until > now, e.last_failure))
                    .map(|(k, _)| k.clone());
                if let Some(stalest) = stalest {
                    entries.remove(&stalest);
                }
            }
        }
        let entry = entries.entry(key.to_owned()).or_insert(Entry {
            failures: 0,
            last_failure: now,
            blocked_until: now,
        });
        if now - entry.last_failure >= policy.forget_after_secs {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        entry.blocked_until = now + policy.delay(entry.failures);
    }

    /// Whether `key` failed within the forget period before `now`.
    pub(crate) fn has_failures(&self, key: &str, now: i64) -> bool {
        self.lock()
            .get(key)
            .is_some_and(|e| now - e.last_failure < self.policy.forget_after_secs)
    }

    /// Forgets the failures of `key` after a successful attempt.
    pub(crate) fn success(&self, key: &str) {
        self.lock().remove(key);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // Every update leaves the map consistent; a panic elsewhere cannot
        // leave it half-written.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BackoffPolicy {
    /// Seconds blocked after the `failures`-th consecutive failure.
    fn delay(&self, failures: u32) -> i64 {
        let Some(over) = failures.checked_sub(self.free_failures + 1) else {
            return 0;
        };
        let factor = 1_i64.checked_shl(over.min(32)).unwrap_or(i64::MAX);
        self.base_secs.saturating_mul(factor).min(self.max_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_bound() {
        let policy = BackoffPolicy::default();
        let delays: Vec<i64> = (1..=12).map(|n| policy.delay(n)).collect();
        assert_eq!(delays, [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(policy.delay(u32::MAX), 60);
    }

    #[test]
    fn blocks_after_repeated_failures_and_recovers() {
        let backoff = Backoff::new(BackoffPolicy::default());
        for _ in 0..4 {
            assert!(backoff.check("gateway", 100).is_ok());
            backoff.failure("gateway", 100);
        }
        assert_eq!(backoff.check("gateway", 100), Err(1));
        assert!(backoff.check("other", 100).is_ok());
        assert!(backoff.check("gateway", 101).is_ok());
        backoff.success("gateway");
        backoff.failure("gateway", 101);
        assert!(backoff.check("gateway", 101).is_ok());
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_period() {
        let backoff = Backoff::new(BackoffPolicy::default());
        for _ in 0..4 {
            backoff.failure("k", 0);
        }
        backoff.failure("k", 15 * 60);
        assert!(backoff.check("k", 15 * 60).is_ok());
    }

    #[test]
    fn the_table_stays_bounded() {
        // All recent: the stalest entry makes room.
        let backoff = Backoff::new(BackoffPolicy::default());
        for i in 0..(MAX_ENTRIES + 50) {
            backoff.failure(&format!("k{i}"), 0);
        }
        assert_eq!(backoff.lock().len(), MAX_ENTRIES);
        // Spread over time: forgotten entries are dropped first.
        let backoff = Backoff::new(BackoffPolicy::default());
        for i in 0..(MAX_ENTRIES + 50) {
            backoff.failure(&format!("k{i}"), i64::try_from(i).unwrap_or(0));
        }
        let len = backoff.lock().len();
        assert!(len < MAX_ENTRIES, "{len}");
    }

    #[test]
    fn a_flood_of_new_keys_does_not_free_a_blocked_one() {
        let backoff = Backoff::new(BackoffPolicy::default());
        for _ in 0..6 {
            backoff.failure("user:bob from 10.0.0.1", 0);
        }
        assert!(backoff.check("user:bob from 10.0.0.1", 1).is_err());
        for i in 0..(MAX_ENTRIES + 50) {
            backoff.failure(&format!("user:invented-{i} from 10.0.0.1"), 1);
        }
        assert!(
            backoff.check("user:bob from 10.0.0.1", 1).is_err(),
            "still blocked after the flood"
        );
    }
}
