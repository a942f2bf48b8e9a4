//! Zero-trust token validation: every hop re-checks the caller's JWT.
//!
//! - [`Validator`] checks an RFC 9068 access token by the rules of RFC 8725:
//!   a fixed algorithm allow-list, keys only from the JWKS and only by
//!   `kid`, `typ` `at+jwt`, `iss`, `aud`, `exp`/`nbf`/`iat` with a small
//!   skew, no unknown `crit`, bounded size, and a reason for every refusal.
//! - [`TokenCache`] remembers verified tokens (by SHA-256 of the token,
//!   never past `exp`), so the hot path pays no signature check.
//! - [`JwksClient`] fetches the key set from `auth`, refreshes it in the
//!   background and, single-flight and rate limited, on an unknown `kid`;
//!   it keeps the last good set while `auth` is down and fails closed once
//!   that set is older than the staleness limit.
//! - [`Revocations`] holds what `auth` revoked (`jti`s, per-subject
//!   not-before times), followed from auth's feed every second; the
//!   validator refuses those tokens even on a cache hit, and fails closed
//!   once the list is older than its staleness limit.
//! - [`JwtLayer`] is the tower layer that puts a [`Caller`] into each
//!   request's extensions.

pub(crate) mod cache;
mod caller;
mod claims;
mod error;
pub mod jwks;
mod layer;
pub mod revocation;
mod validator;
mod workload;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

pub use cache::TokenCache;
pub use caller::Caller;
pub use claims::{Actor, Claims, Role};
pub use error::AuthError;
pub use jwks::{GrpcJwksSource, JwksClient, JwksSource, KeySet};
pub use layer::{JwtLayer, JwtService, authenticate, bearer_token};
pub use revocation::Revocations;
pub use validator::{Validator, ValidatorConfig};
pub use workload::WorkloadCredentials;

/// The largest clock skew a validator may tolerate (`--jwt-skew`). Auth
/// publishes a revoked token until this long after its `exp`, since a
/// validator accepts it until `exp` plus its skew.
pub const MAX_SKEW: Duration = Duration::from_secs(300);

/// The largest token accepted: checked before any decoding work.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The signature algorithms a validator may allow. Symmetric (HMAC)
/// algorithms are not among them: a token signed with a key anyone can read
/// from the JWKS must never verify.
pub const ASYMMETRIC_ALGORITHMS: &[&str] = &[
    "ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "EdDSA",
];

/// Wall-clock time, injectable so expiry and staleness can be tested
/// without waiting.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Time since the Unix epoch.
    fn now(&self) -> Duration;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
    }
}

/// A clock that moves only when told to, for tests.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    millis: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock showing the current system time.
    pub fn starting_now() -> Self {
        let clock = Self::default();
        clock
            .millis
            .store(SystemClock.now().as_millis() as u64, Ordering::SeqCst);
        clock
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.millis
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_millis(self.millis.load(Ordering::SeqCst))
    }
}
