//! When a key signs and when it is published: the rules of rotation as
//! plain functions of time, kept apart from I/O so they can be tested alone.
//!
//! ```text
//!  created ── publish-ahead ──▶ activates ──── signs ────▶ signs_until ── ttl + skew ──▶ published_until
//!  |◀──────────────────────────── in the JWKS ──────────────────────────────────────────▶|
//! ```
//!
//! A new key is in the JWKS for the publish-ahead interval before it signs,
//! so verifiers with a cached JWKS already know it; a retired key stays
//! in the JWKS until every token it signed has expired, plus clock skew.

/// A key's lifecycle times (seconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) activates_at: i64,
    /// `None` while no newer key has been scheduled.
    pub(crate) signs_until: Option<i64>,
    /// `None` while the key may still sign.
    pub(crate) published_until: Option<i64>,
}

impl Window {
    /// A key that signs from `activates_at` on, until retired.
    pub(crate) fn from(activates_at: i64) -> Self {
        Self {
            activates_at,
            signs_until: None,
            published_until: None,
        }
    }

    /// Whether the key is the one to sign with at `now` (if it is the newest such).
    pub(crate) fn signs_at(&self, now: i64) -> bool {
        self.activates_at <= now && self.signs_until.is_none_or(|until| now < until)
    }

    /// Whether the key is in the JWKS (and verifies tokens) at `now`.
    pub(crate) fn published_at(&self, now: i64) -> bool {
        self.published_until.is_none_or(|until| now < until)
    }

    /// Whether the key could still sign at or after `now`.
    pub(crate) fn may_sign_after(&self, now: i64) -> bool {
        self.signs_until.is_none_or(|until| now < until)
    }

    /// Stops the key signing at `at` if it would sign later; it stays
    /// published for `retire_after` (longest token lifetime + skew) more.
    pub(crate) fn retire_at(&mut self, at: i64, retire_after: i64) {
        if self.signs_until.is_none_or(|until| until > at) {
            self.signs_until = Some(at);
            self.published_until = Some(at.saturating_add(retire_after));
        }
    }

    /// After a restart with a longer token lifetime, a key that still signs
    /// must stay published long enough for the longer tokens too.
    pub(crate) fn cover_lifetime(&mut self, retire_after: i64) {
        if let Some(until) = self.signs_until {
            let needed = until.saturating_add(retire_after);
            if self.published_until.is_none_or(|p| p < needed) {
                self.published_until = Some(needed);
            }
        }
    }

    /// The next time after `now` at which this key's state changes.
    pub(crate) fn next_change(&self, now: i64) -> Option<i64> {
        [
            Some(self.activates_at),
            self.signs_until,
            self.published_until,
        ]
        .into_iter()
        .flatten()
        .filter(|t| *t > now)
        .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retired_key_signs_until_then_stays_published_for_its_tokens() {
        let mut old = Window::from(0);
        let new = Window::from(1_000);
        old.retire_at(new.activates_at, 330);
        assert!(old.signs_at(999) && !old.signs_at(1_000));
        assert!(new.published_at(0) && !new.signs_at(999) && new.signs_at(1_000));
        assert!(old.published_at(1_329) && !old.published_at(1_330));
        assert_eq!(old.next_change(999), Some(1_000));
        assert_eq!(old.next_change(1_000), Some(1_330));
        assert_eq!(old.next_change(1_330), None);
    }

    #[test]
    fn retiring_never_extends_an_earlier_retirement() {
        let mut window = Window::from(0);
        window.retire_at(100, 10);
        window.retire_at(500, 10);
        assert_eq!(
            (window.signs_until, window.published_until),
            (Some(100), Some(110))
        );
    }

    #[test]
    fn a_longer_lifetime_extends_publication() {
        let mut window = Window::from(0);
        window.retire_at(100, 10);
        window.cover_lifetime(50);
        assert_eq!(window.published_until, Some(150));
        window.cover_lifetime(5);
        assert_eq!(window.published_until, Some(150));
    }
}
