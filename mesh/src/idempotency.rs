//! Requests in progress, by idempotency key. A second request with the key
//! of one still running is answered `ABORTED` (retry later) instead of
//! racing the first one through the same remote calls.
//!
//! In memory: one process serves one database, and after a crash nothing
//! is in flight any more; the next request with the key finishes the work.
//! It lives in the kit because every workload that calls upstreams on a
//! caller's behalf needs the same guard.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
};

/// The keys of the requests in progress. Cheap to clone; clones share keys.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<Mutex<HashSet<String>>>);

impl InFlight {
    /// Claims `key` until the returned guard drops, or `None` if another
    /// request holds it.
    pub fn claim(&self, key: String) -> Option<Claim> {
        let mut keys = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        keys.insert(key.clone()).then(|| Claim {
            keys: self.0.clone(),
            key,
        })
    }
}

/// A claimed key, released on drop (also when the request is cancelled).
#[derive(Debug)]
pub struct Claim {
    keys: Arc<Mutex<HashSet<String>>>,
    key: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_held_until_its_claim_drops() {
        let in_flight = InFlight::default();
        let claim = in_flight.claim("k".to_owned()).expect("free");
        assert!(in_flight.claim("k".to_owned()).is_none());
        assert!(in_flight.claim("other".to_owned()).is_some());
        drop(claim);
        assert!(in_flight.claim("k".to_owned()).is_some());
    }
}
