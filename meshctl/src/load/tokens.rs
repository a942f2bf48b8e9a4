//! The bearer token every request carries, kept fresh without stalling
//! the senders: workers read the current token from an [`ArcSwap`] (a few
//! nanoseconds, no lock), while a background task fetches the next one
//! from auth well before the current one expires and swaps it in.

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use arc_swap::ArcSwap;
use http::HeaderValue;
use tokio::{task::JoinHandle, time::Instant};

use crate::client::{Gateway, Subject};

/// `Bearer <token>`, ready to attach to a gRPC or an HTTP request.
#[derive(Debug, Clone)]
pub(crate) struct Bearer {
    /// The `authorization` header's value (gRPC metadata is a header too).
    pub(crate) header: HeaderValue,
}

impl Bearer {
    pub(crate) fn new(token: &str) -> anyhow::Result<Self> {
        let header = HeaderValue::from_str(&format!("Bearer {token}"))
            .context("the token is not a valid header value")?;
        Ok(Self { header })
    }
}

/// The current token, shared by every worker.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    current: Arc<ArcSwap<Bearer>>,
    /// The raw token, for the abuse scenario to forge look-alikes from.
    raw: Arc<ArcSwap<String>>,
}

impl Tokens {
    /// Always `token` (given on the command line; never refreshed).
    pub(crate) fn fixed(token: &str) -> anyhow::Result<Self> {
        Ok(Self {
            current: Arc::new(ArcSwap::from_pointee(
                Bearer::new(token).context("--token")?,
            )),
            raw: Arc::new(ArcSwap::from_pointee(token.to_owned())),
        })
    }

    /// The token to send now.
    pub(crate) fn current(&self) -> arc_swap::Guard<Arc<Bearer>> {
        self.current.load()
    }

    /// The raw token in use now.
    pub(crate) fn raw(&self) -> Arc<String> {
        self.raw.load_full()
    }

    /// A token for `subject` at `audience` from auth (through the gateway),
    /// refreshed in the background until `until`.
    pub(crate) async fn from_auth(
        gateway: &Gateway,
        subject: Subject,
        audience: Option<&'static str>,
        until: Instant,
    ) -> anyhow::Result<(Self, JoinHandle<()>)> {
        let first = gateway
            .token(&subject, None, audience)
            .await
            .context("get a token for the load run")?;
        let tokens = Self {
            current: Arc::new(ArcSwap::from_pointee(Bearer::new(&first.access_token)?)),
            raw: Arc::new(ArcSwap::from_pointee(first.access_token)),
        };
        let refresher = tokio::spawn(refresh(
            tokens.clone(),
            gateway.clone(),
            subject,
            audience,
            first.expires_in,
            until,
        ));
        Ok((tokens, refresher))
    }
}

/// When to fetch the next token for one that lives `expires_in` seconds:
/// at three quarters of its life, and at least 30 s before it ends.
pub(crate) fn refresh_after(expires_in: u64) -> Duration {
    let secs = (expires_in * 3 / 4)
        .min(expires_in.saturating_sub(30))
        .max(1);
    Duration::from_secs(secs)
}

/// Wait before retrying a failed refresh.
const RETRY: Duration = Duration::from_secs(2);

async fn refresh(
    tokens: Tokens,
    gateway: Gateway,
    subject: Subject,
    audience: Option<&'static str>,
    mut expires_in: u64,
    until: Instant,
) {
    let mut next = Instant::now() + refresh_after(expires_in);
    // Bounded by the end of the run: each round waits at least `RETRY`.
    while next < until {
        tokio::time::sleep_until(next).await;
        match gateway.token(&subject, None, audience).await {
            Ok(fresh) => match Bearer::new(&fresh.access_token) {
                Ok(bearer) => {
                    tokens.current.store(Arc::new(bearer));
                    tokens.raw.store(Arc::new(fresh.access_token));
                    expires_in = fresh.expires_in;
                    next = Instant::now() + refresh_after(expires_in).max(RETRY);
                }
                Err(e) => {
                    eprintln!("meshctl load: token refresh: {e:#}");
                    next = Instant::now() + RETRY;
                }
            },
            Err(e) => {
                // The current token still works for a while: try again soon.
                eprintln!("meshctl load: token refresh failed, retrying: {e:#}");
                next = Instant::now() + RETRY;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_refreshed_well_before_they_expire() {
        assert_eq!(refresh_after(300), Duration::from_secs(225));
        assert_eq!(refresh_after(60), Duration::from_secs(30));
        assert_eq!(refresh_after(20), Duration::from_secs(1));
        assert_eq!(refresh_after(0), Duration::from_secs(1));
    }

    #[test]
    fn a_bearer_is_a_header_value() {
        let bearer = Bearer::new("abc.def.ghi").expect("valid");
        assert_eq!(bearer.header, "Bearer abc.def.ghi");
        assert!(Bearer::new("bad\ntoken").is_err());
    }
}
