//! The task that keeps a workload's [`Revocations`] in step with auth's
//! feed: every poll interval it asks `auth.v1.Revocations/ListRevocations`
//! over mutual TLS for what is newer than its last answer, and applies it.
//!
//! Polling rather than a stream: a poll is one indexed read at auth, needs
//! no reconnection logic, and a missed answer is simply asked again. With
//! the default 1 s interval a revocation reaches every workload well
//! within the 5 s docs/architecture.md promises.

use std::{sync::Arc, time::Duration};

use mesh_proto::auth::v1::{ListRevocationsRequest, revocations_client::RevocationsClient};
use tonic::{Status, transport::Channel};

use super::{MAX_ENTRIES, Revocations, Update};
use crate::{Readiness, metrics::Metrics};

/// How long one page of the feed may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Reads every page of the feed newer than `cursor` (feed, version) into
/// one update, so that a snapshot replaces the set at once, never half.
pub async fn fetch(channel: Channel, cursor: (String, u64)) -> Result<Update, Status> {
    let mut client = RevocationsClient::new(channel);
    let (mut feed, mut version) = cursor;
    let mut update = Update::default();
    loop {
        let mut request = tonic::Request::new(ListRevocationsRequest {
            feed: feed.clone(),
            since_version: version,
        });
        request.set_timeout(REQUEST_TIMEOUT);
        let page = client.list_revocations(request).await?.into_inner();
        if page.snapshot {
            // The feed started over (or this is the first answer): what
            // earlier pages said is part of the new snapshot or gone.
            update = Update {
                snapshot: true,
                ..Update::default()
            };
        }
        let secs = |t: i64| u64::try_from(t).unwrap_or(0);
        let tokens = page.tokens.into_iter().map(|t| (t.jti, secs(t.expires_at)));
        update.tokens.extend(tokens);
        let subjects = page.subjects.into_iter().map(|s| {
            let (at, expires_at) = (secs(s.not_before), secs(s.expires_at));
            (s.subject, s.client_id, at, expires_at)
        });
        update.subjects.extend(subjects);
        (feed, version) = (page.feed, page.version);
        // Stop reading past the bound: applying will refuse it anyway.
        if !page.more || update.tokens.len() > MAX_ENTRIES {
            break;
        }
    }
    update.feed = feed;
    update.version = version;
    Ok(update)
}

/// Asks the feed once and applies the answer; counts the outcome in
/// `mesh_revocation_refresh_total{result}`. Returns whether it worked.
pub async fn poll(channel: Channel, revocations: &Revocations, metrics: &Metrics) -> bool {
    let outcome = match fetch(channel, revocations.cursor()).await {
        Ok(update) => revocations
            .apply(update)
            .map_err(|e| ("too_many", e.to_string())),
        Err(status) => Err(("error", format!("{}: {}", status.code(), status.message()))),
    };
    match outcome {
        Ok(()) => {
            metrics.revocation_refresh("ok");
            true
        }
        Err((result, error)) => {
            metrics.revocation_refresh(result);
            tracing::debug!(%error, "revocation feed poll failed");
            false
        }
    }
}

/// Polls every `interval` until the task is aborted, keeping the
/// `revocations` readiness condition up to date. Logs when the feed stops
/// answering and when the set goes stale, not on every failed poll.
pub fn spawn(
    revocations: Arc<Revocations>,
    channel: Channel,
    interval: Duration,
    metrics: Metrics,
    readiness: Readiness,
) -> tokio::task::JoinHandle<()> {
    readiness.set("revocations", false);
    metrics.declare_revocation_refreshes(&["ok", "error", "too_many"]);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut failing, mut was_fresh) = (false, false);
        loop {
            ticks.tick().await;
            let ok = poll(channel.clone(), &revocations, &metrics).await;
            let fresh = revocations.is_fresh();
            if ok && failing {
                tracing::info!("revocation feed answers again");
            } else if !ok && !failing {
                tracing::warn!(
                    fresh,
                    "revocation feed unreachable; keeping the last answer until it is too old"
                );
            }
            if was_fresh && !fresh {
                tracing::error!("revocation list too old: refusing every token until auth answers");
            }
            (failing, was_fresh) = (!ok, fresh);
            readiness.set("revocations", fresh);
        }
    })
}
