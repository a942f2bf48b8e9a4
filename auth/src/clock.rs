//! The time every token, key window and backoff is computed from.
//!
//! The server reads time only through a [`Clock`], so tests can drive key
//! rotation, expiry and backoff with a [`ManualClock`] instead of sleeping.
//! Times are whole seconds since the Unix epoch, the unit of JWT claims.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::sync::watch;

/// A source of the current time. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Clock(Source);

#[derive(Debug, Clone)]
enum Source {
    System,
    /// Set by a [`ManualClock`]; the channel wakes sleepers when it moves.
    Manual(Arc<watch::Sender<i64>>),
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Self {
        Self(Source::System)
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        match &self.0 {
            Source::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            Source::Manual(time) => *time.borrow(),
        }
    }

    /// Completes once [`Clock::now`] has reached `deadline`.
    pub async fn sleep_until(&self, deadline: i64) {
        match &self.0 {
            Source::System => {
                let wait = deadline.saturating_sub(self.now()).max(0);
                tokio::time::sleep(Duration::from_secs(wait.unsigned_abs())).await;
            }
            Source::Manual(time) => {
                let mut changes = time.subscribe();
                // The sender lives as long as this clock does, so `changed`
                // only fails if every handle is gone; then time never moves.
                while *changes.borrow_and_update() < deadline {
                    if changes.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }
}

/// A clock that moves only when told to, for tests.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<watch::Sender<i64>>);

impl ManualClock {
    /// A clock standing at `now` (seconds since the Unix epoch).
    pub fn new(now: i64) -> Self {
        Self(Arc::new(watch::Sender::new(now)))
    }

    /// A clock standing at the current system time.
    pub fn starting_now() -> Self {
        Self::new(Clock::system().now())
    }

    /// The [`Clock`] handed to the server.
    pub fn clock(&self) -> Clock {
        Clock(Source::Manual(self.0.clone()))
    }

    /// Moves time forward by `by` (whole seconds) and wakes sleepers.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.0.send_modify(|now| *now = now.saturating_add(by));
    }

    /// The time the clock shows.
    pub fn now(&self) -> i64 {
        *self.0.borrow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_sleepers_wake_when_time_reaches_their_deadline() {
        let manual = ManualClock::new(1_000);
        let clock = manual.clock();
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(1_010).await }
        });
        manual.advance(Duration::from_secs(5));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "woke before its deadline");
        manual.advance(Duration::from_secs(5));
        sleeper.await.expect("sleeper finishes");
        assert_eq!(clock.now(), 1_010);
    }
}
