//! Picks up rotated certificate files without a restart: a background task
//! checks the files' modification stamps and swaps in new material when
//! they change and check out. Connections already open keep their session;
//! new handshakes use the new certificate.

use std::time::Duration;

use super::MeshTls;
use crate::metrics::Metrics;

/// Checks `tls`'s files every `every` until the returned task is dropped or aborted.
pub(crate) fn spawn_reloader(
    tls: MeshTls,
    every: Duration,
    metrics: Metrics,
) -> tokio::task::JoinHandle<()> {
    metrics.set_cert_validity(tls.not_before(), tls.not_after());
    metrics.declare_cert_reloads(&["ok", "error"]);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            match tls.reload_if_changed() {
                Ok(false) => {}
                Ok(true) => {
                    metrics.set_cert_validity(tls.not_before(), tls.not_after());
                    metrics.cert_reload("ok");
                    tracing::info!(identity = %tls.identity(), not_after = tls.not_after(), "reloaded rotated TLS certificate");
                }
                Err(error) => {
                    metrics.cert_reload("error");
                    tracing::warn!(%error, "rotated TLS files are not usable; keeping the current certificate");
                }
            }
        }
    })
}
