//! What `auth` has revoked, as this workload knows it: revoked `jti`s and
//! per-subject not-before times, followed from auth's revocation feed
//! (`auth.v1.Revocations`) by the task in [`follower`].
//!
//! The [`crate::Validator`] asks [`Revocations::check`] on every call, a
//! cache hit included, so a revoked token stops working here as soon as
//! the feed said so. A token is refused when
//!
//! - its `jti` is revoked, or its `root_jti` is: a token exchanged from a
//!   revoked one (RFC 8693) carries the `jti` it started from, so one
//!   lookup covers every hop without auth remembering what it exchanged;
//! - its subject has a not-before later than its `iat`, for its client or
//!   for every client: that covers exchanged tokens too, which keep the
//!   subject and client and are issued later than what they came from.
//!
//! Like the JWKS, the set fails closed: once the last good answer from
//! the feed is older than the staleness limit, [`Revocations::check`]
//! refuses everything with [`AuthError::RevocationsUnavailable`]. While the
//! feed answers, a revocation is honoured within one poll interval.

pub mod follower;

use std::{
    collections::HashMap,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use super::{AuthError, Claims, Clock};

/// Most revoked `jti`s held. Past it an update is not applied, the set
/// goes stale and validation fails closed: never silently forget one.
pub const MAX_ENTRIES: usize = 200_000;

/// One subject's not-before.
#[derive(Debug, Clone, Copy)]
struct NotBefore {
    /// Tokens with an earlier `iat` are refused.
    at: u64,
    /// After this no token issued before `at` is valid anyway.
    expires_at: u64,
}

/// One answer of the feed, or several pages of it put together.
#[derive(Debug, Default, Clone)]
pub struct Update {
    /// The feed the versions count in.
    pub feed: String,
    /// Where to ask from next.
    pub version: u64,
    /// The entries are the whole live set: forget what was held.
    pub snapshot: bool,
    /// Revoked tokens: `jti` and `exp`.
    pub tokens: Vec<(String, u64)>,
    /// Revoked sessions: subject, client (empty: all), not-before, expiry.
    pub subjects: Vec<(String, String, u64, u64)>,
}

#[derive(Debug, Default)]
struct State {
    feed: String,
    version: u64,
    /// `jti` to the token's `exp`.
    tokens: HashMap<String, u64>,
    /// Subject to client (empty: every client) to not-before.
    subjects: HashMap<String, HashMap<String, NotBefore>>,
}

/// The revocations this workload honours. Shared by the validator, the
/// exchanger and the follower task.
#[derive(Debug)]
pub struct Revocations {
    state: RwLock<State>,
    clock: Arc<dyn Clock>,
    max_staleness: Duration,
    /// Clock time (ms) of the last applied answer; 0 before the first.
    last_success_ms: AtomicU64,
    /// Applied answers so far, for those waiting on the first one.
    applied: tokio::sync::watch::Sender<u64>,
}

impl Revocations {
    /// An empty set that counts as stale until the first answer is applied.
    pub fn new(clock: Arc<dyn Clock>, max_staleness: Duration) -> Self {
        Self {
            state: RwLock::default(),
            clock,
            max_staleness,
            last_success_ms: AtomicU64::new(0),
            applied: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Refuses `claims` if they are revoked, or if the set is too old to
    /// say (fail closed).
    pub fn check(&self, claims: &Claims) -> Result<(), AuthError> {
        if !self.is_fresh() {
            return Err(AuthError::RevocationsUnavailable);
        }
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let revoked_jti = |jti: &str| state.tokens.contains_key(jti);
        if revoked_jti(&claims.jti) || claims.root_jti.as_deref().is_some_and(revoked_jti) {
            return Err(AuthError::Revoked);
        }
        let Some(sessions) = state.subjects.get(&claims.sub) else {
            return Ok(());
        };
        let revoked = [claims.client_id.as_str(), ""]
            .into_iter()
            .filter_map(|client| sessions.get(client))
            .any(|nb| claims.iat < nb.at);
        if revoked {
            return Err(AuthError::Revoked);
        }
        Ok(())
    }

    /// Whether an answer of the feed was applied within the staleness limit.
    pub fn is_fresh(&self) -> bool {
        let last = self.last_success_ms.load(Ordering::Acquire);
        last != 0 && self.now_ms() <= last.saturating_add(self.max_staleness.as_millis() as u64)
    }

    /// Waits until the set is fresh.
    pub async fn wait_fresh(&self) {
        let mut applied = self.applied.subscribe();
        while !self.is_fresh() {
            if applied.changed().await.is_err() {
                return;
            }
        }
    }

    /// The feed and version to ask from next.
    pub fn cursor(&self) -> (String, u64) {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        (state.feed.clone(), state.version)
    }

    /// Revoked `jti`s and subjects held.
    pub fn len(&self) -> usize {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        state.tokens.len() + state.subjects.values().map(HashMap::len).sum::<usize>()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies an answer of the feed and drops expired entries. Refuses
    /// (and stays as it was) when the set would exceed [`MAX_ENTRIES`].
    pub fn apply(&self, update: Update) -> Result<(), TooMany> {
        let now = self.now_ms() / 1000;
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if update.snapshot {
            if update.tokens.len() > MAX_ENTRIES {
                return Err(TooMany);
            }
            *state = State::default();
        }
        state.tokens.retain(|_, exp| *exp > now);
        state.subjects.retain(|_, sessions| {
            sessions.retain(|_, nb| nb.expires_at > now);
            !sessions.is_empty()
        });
        if state.tokens.len() + update.tokens.len() > MAX_ENTRIES {
            return Err(TooMany);
        }
        let live_tokens = update.tokens.into_iter().filter(|(_, exp)| *exp > now);
        state.tokens.extend(live_tokens);
        for (subject, client, at, expires_at) in update.subjects {
            if expires_at <= now {
                continue;
            }
            let sessions = state.subjects.entry(subject).or_default();
            let entry = sessions
                .entry(client)
                .or_insert(NotBefore { at, expires_at });
            // Two revocations of one subject: the later one wins.
            if at >= entry.at {
                *entry = NotBefore { at, expires_at };
            }
        }
        state.feed = update.feed;
        state.version = update.version;
        drop(state);
        self.last_success_ms.store(self.now_ms(), Ordering::Release);
        self.applied.send_modify(|n| *n += 1);
        Ok(())
    }

    fn now_ms(&self) -> u64 {
        self.clock.now().as_millis() as u64
    }
}

/// The feed holds more revoked tokens than [`MAX_ENTRIES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the revocation feed holds more than {MAX_ENTRIES} tokens")]
pub struct TooMany;

#[cfg(test)]
mod tests;
