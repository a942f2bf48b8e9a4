//! Closing public connections that hold a socket without using it: a
//! client that finishes the TLS handshake and never sends a request, or
//! keeps a connection open with nothing in flight, for longer than the
//! idle timeout. hyper's header timeout only covers a request that has
//! begun, so each connection gets a watchdog that knows, through a guard
//! held by every request until its response body is gone, whether
//! anything is in progress.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::time::Instant;

/// What is happening on one connection.
#[derive(Debug)]
pub(super) struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// When the last request started or finished, in ms since `opened`
    /// (0 until the first request: opening counts as activity).
    last: AtomicU64,
}

/// Held by a request (and its response body) while it is in progress.
#[derive(Debug)]
pub(super) struct InFlight(Arc<Activity>);

impl Activity {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last: AtomicU64::new(0),
        })
    }

    /// A request begins; it is in progress until the guard is dropped.
    pub(super) fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch();
        InFlight(self.clone())
    }

    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Release);
    }

    /// When the connection is to be closed if nothing happens before:
    /// `idle` after it opened or after the last request ended. `None`
    /// while a request is in progress.
    fn deadline(&self, idle: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let last = Duration::from_millis(self.last.load(Ordering::Acquire));
        Some(self.opened + last + idle)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Completes when the connection has been idle past its deadline. While a
/// request is in progress it looks again after `idle`.
pub(super) async fn expired(activity: &Activity, idle: Duration) {
    loop {
        match activity.deadline(idle) {
            Some(deadline) if deadline <= Instant::now() => return,
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => tokio::time::sleep(idle).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Activity;

    const IDLE: Duration = Duration::from_secs(60);

    #[test]
    fn a_connection_without_a_request_has_the_idle_timeout_from_opening() {
        let activity = Activity::new();
        assert_eq!(activity.deadline(IDLE), Some(activity.opened + IDLE));
    }

    #[test]
    fn a_request_in_progress_keeps_the_connection() {
        let activity = Activity::new();
        let request = activity.start();
        let response_body = activity.start();
        assert_eq!(activity.deadline(IDLE), None);
        drop(request);
        assert_eq!(activity.deadline(IDLE), None, "a body is still streaming");
        drop(response_body);
        assert!(activity.deadline(IDLE).is_some());
    }

    #[test]
    fn after_a_request_the_idle_timeout_counts_from_its_end() {
        let activity = Activity::new();
        let before = activity.deadline(IDLE).expect("idle");
        drop(activity.start());
        let deadline = activity.deadline(IDLE).expect("idle");
        assert!(deadline >= before);
        assert!(deadline <= tokio::time::Instant::now() + IDLE);
    }
}
