//! Slowing down credential guessing without handing attackers a lockout
//! switch (OWASP Authentication Cheat Sheet, "Account Lockout").
//!
//! Two counts per principal (a user or a client id, known or not):
//!
//! - **per address**: failures of the principal from one client address
//!   delay further attempts from that address only, doubling up to a
//!   minute. Someone guessing bob's password from one address slows
//!   themselves down, not bob.
//! - **per principal**: failures from every address together. Past a
//!   larger allowance the principal is under attack, and then any address
//!   that has failed for it waits out the global delay (up to five
//!   minutes) too. An address with no failure for the principal is still
//!   let through, so the owner who types the right secret gets in, while a
//!   distributed guesser gets at most one guess per fresh address.
//!
//! Unknown names are counted under their own name exactly like known ones,
//! so the answers (status, body, headers, which attempts are refused) never
//! tell whether a name exists. Both tables are bounded ([`Backoff`]).

use std::net::IpAddr;

use crate::backoff::{Backoff, BackoffPolicy};

/// How failures turn into delays, per address and per principal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ThrottlePolicy {
    /// One principal from one address.
    pub(crate) per_address: BackoffPolicy,
    /// One principal from all addresses together.
    pub(crate) per_principal: BackoffPolicy,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            per_address: BackoffPolicy::default(),
            per_principal: BackoffPolicy {
                free_failures: 20,
                base_secs: 2,
                max_secs: 300,
                forget_after_secs: 60 * 60,
            },
        }
    }
}

impl ThrottlePolicy {
    /// The default policy with `base` seconds as the first per-address wait
    /// (`--login-backoff`); the cap is a minute, or `base` if longer.
    pub(crate) fn with_backoff(base: i64) -> Self {
        let mut policy = Self::default();
        policy.per_address.base_secs = base.max(1);
        policy.per_address.max_secs = policy.per_address.max_secs.max(base);
        policy
    }
}

/// Why an attempt is refused before any secret is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    /// Whether the per-principal count refused it (an attack from many
    /// addresses), rather than this address's own failures.
    pub(crate) global: bool,
    /// Seconds to wait.
    pub(crate) wait: i64,
}

/// Failure counts of one kind of principal (users, or clients).
#[derive(Debug)]
pub(crate) struct Throttle {
    per_address: Backoff,
    per_principal: Backoff,
}

impl Throttle {
    pub(crate) fn new(policy: ThrottlePolicy) -> Self {
        Self {
            per_address: Backoff::new(policy.per_address),
            per_principal: Backoff::new(policy.per_principal),
        }
    }

    /// Whether attempts for `principal` from `address` are refused at `now`.
    pub(crate) fn check(
        &self,
        principal: &str,
        address: Option<IpAddr>,
        now: i64,
    ) -> Result<(), Refused> {
        let pair = pair_key(principal, address);
        self.per_address.check(&pair, now).map_err(|wait| Refused {
            global: false,
            wait,
        })?;
        if let Err(wait) = self.per_principal.check(principal, now)
            && self.per_address.has_failures(&pair, now)
        {
            return Err(Refused { global: true, wait });
        }
        Ok(())
    }

    /// Counts a failed attempt.
    pub(crate) fn failure(&self, principal: &str, address: Option<IpAddr>, now: i64) {
        self.per_address.failure(&pair_key(principal, address), now);
        self.per_principal.failure(principal, now);
    }

    /// Forgets this address's failures for `principal`. The global count
    /// stays: one success by the owner does not end an attack.
    pub(crate) fn success(&self, principal: &str, address: Option<IpAddr>) {
        self.per_address.success(&pair_key(principal, address));
    }
}

/// The per-address key: an IPv6 client by its /64, which it could roam
/// freely. Without an address (not over HTTP) every request shares one.
fn pair_key(principal: &str, address: Option<IpAddr>) -> String {
    match address {
        Some(ip) => format!("{principal} from {}", mesh::peer::client_network(ip)),
        None => format!("{principal} from ?"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn failures_from_one_address_do_not_block_another() {
        let throttle = Throttle::new(ThrottlePolicy::default());
        for _ in 0..6 {
            throttle.failure("user:bob", ip(1), 100);
        }
        assert!(throttle.check("user:bob", ip(1), 100).is_err());
        assert!(throttle.check("user:bob", ip(2), 100).is_ok());
        assert!(throttle.check("user:alice", ip(1), 100).is_ok());
    }

    #[test]
    fn under_attack_only_addresses_that_failed_wait() {
        let throttle = Throttle::new(ThrottlePolicy::default());
        // A distributed guesser: 30 addresses, one failure each.
        for last in 1..=30 {
            assert!(throttle.check("user:bob", ip(last), 100).is_ok());
            throttle.failure("user:bob", ip(last), 100);
        }
        // Each of them now waits for the global delay...
        let refused = throttle.check("user:bob", ip(7), 100).expect_err("global");
        assert!(refused.global && refused.wait > 0, "{refused:?}");
        // ...while an address that never failed may still try.
        assert!(throttle.check("user:bob", ip(200), 100).is_ok());
        // The owner's success there does not clear the attack.
        throttle.success("user:bob", ip(200));
        assert!(throttle.check("user:bob", ip(7), 100).is_err());
    }

    #[test]
    fn global_delay_is_bounded() {
        let throttle = Throttle::new(ThrottlePolicy::default());
        for n in 0..10_000_u32 {
            let address = Some(IpAddr::from(n.to_be_bytes()));
            throttle.failure("client:x", address, 100);
        }
        let refused = throttle
            .check("client:x", Some(IpAddr::from([0, 0, 0, 1])), 100)
            .expect_err("an address that failed must wait");
        assert!(refused.wait <= 300, "{refused:?}");
    }
}
