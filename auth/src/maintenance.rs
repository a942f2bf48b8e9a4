//! The background task: scheduled key rotation, unpublishing retired keys
//! and deleting their private files, and pruning expired rows.
//!
//! It sleeps until the next thing is due, by the server's [`Clock`] (so a
//! test's manual clock drives it), or until the key set changes.
//!
//! [`Clock`]: crate::clock::Clock

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::authority::Authority;

/// How often expired refresh families and revocations are deleted, in seconds.
const STORE_PRUNE_EVERY: i64 = 3600;

/// Runs until `stop` is cancelled.
pub(crate) async fn run(auth: Arc<Authority>, stop: CancellationToken) {
    let mut changes = auth.keys.subscribe();
    let mut next_store_prune = auth.clock.now();
    loop {
        let now = auth.clock.now();
        if let Err(error) = auth.keys.rotate_if_due(now).await {
            tracing::error!(%error, "scheduled key rotation failed");
        }
        if let Err(error) = auth.keys.prune(now).await {
            tracing::error!(%error, "pruning retired keys failed");
        }
        if now >= next_store_prune {
            match auth.store.prune(now).await {
                Ok(0) => {}
                Ok(rows) => {
                    tracing::debug!(rows, "pruned expired refresh families and revocations")
                }
                Err(error) => tracing::error!(%error, "pruning the store failed"),
            }
            next_store_prune = now + STORE_PRUNE_EVERY;
        }
        let wake = auth
            .keys
            .next_change(now)
            .map_or(next_store_prune, |t| t.min(next_store_prune))
            .max(now + 1);
        // Our own changes above need no second pass.
        changes.borrow_and_update();
        tokio::select! {
            () = stop.cancelled() => return,
            () = auth.clock.sleep_until(wake) => {}
            _ = changes.changed() => {}
        }
    }
}
