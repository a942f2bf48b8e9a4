//! How many revocations one client may make: every revoked token is an
//! entry every workload holds until the token expires, so a client that
//! revokes in a loop could otherwise grow the revocation feed until the
//! workloads refuse it and fail closed. A fixed window per client, on
//! auth's clock; registered clients only, so the table stays bounded.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

/// Revocations one client may make per minute: far above any real client,
/// far below what the feed can hold.
pub(crate) const REVOCATIONS_PER_MINUTE: u32 = 600;

/// Revocations counted per client in the current minute.
#[derive(Debug, Default)]
pub(crate) struct RevocationQuota {
    /// Client id to (minute, revocations in it).
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RevocationQuota {
    /// Counts one revocation by `client` at `now`, or `Err(seconds to wait)`
    /// when its minute is used up.
    pub(crate) fn take(&self, client: &str, now: i64) -> Result<(), i64> {
        let minute = now.div_euclid(60);
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let window = windows.entry(client.to_owned()).or_insert((minute, 0));
        if window.0 != minute {
            *window = (minute, 0);
        }
        if window.1 >= REVOCATIONS_PER_MINUTE {
            return Err((minute + 1) * 60 - now);
        }
        window.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_minute_and_then_waits() {
        let quota = RevocationQuota::default();
        for _ in 0..REVOCATIONS_PER_MINUTE {
            assert!(quota.take("loadgen", 120).is_ok());
        }
        assert_eq!(quota.take("loadgen", 150), Err(30));
        assert!(quota.take("meshctl", 150).is_ok(), "another client");
        assert!(quota.take("loadgen", 180).is_ok(), "the next minute");
    }
}
