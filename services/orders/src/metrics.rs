//! The orders workload's own metrics, beside the kit's: what the resumer
//! found on its last pass, so an alert can tell a saga that is stuck (an
//! order unfinished for minutes) from one in progress, and a resumer that
//! cannot keep up (a full batch on every pass).

use std::sync::atomic::AtomicI64;

use prometheus_client::metrics::gauge::Gauge;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::store::OrderRow;

/// The resumer's view of the unfinished orders. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Backlog {
    /// Orders PENDING or CANCELLING found by the last pass (at most a batch).
    unfinished: Gauge<i64, AtomicI64>,
    /// Seconds since the oldest of them last changed state; 0 when none.
    oldest: Gauge<i64, AtomicI64>,
}

impl Backlog {
    /// Registers the gauges in `server`'s registry.
    pub(crate) fn register(server: &mesh::Server) -> Self {
        let backlog = Self::default();
        server.register(
            "mesh_orders_unfinished",
            "Orders PENDING or CANCELLING at the resumer's last pass (at most one batch)",
            backlog.unfinished.clone(),
        );
        server.register(
            "mesh_orders_unfinished_oldest_age_seconds",
            "Seconds since the oldest unfinished order last changed state, at the resumer's last pass",
            backlog.oldest.clone(),
        );
        backlog
    }

    /// Records one pass's unfinished `orders`.
    pub(crate) fn record(&self, orders: &[OrderRow]) {
        let now = OffsetDateTime::now_utc();
        let oldest = orders
            .iter()
            .filter_map(|o| OffsetDateTime::parse(o.updated_at(), &Rfc3339).ok())
            .map(|at| (now - at).whole_seconds())
            .max()
            .unwrap_or(0);
        self.unfinished
            .set(i64::try_from(orders.len()).unwrap_or(i64::MAX));
        self.oldest.set(oldest.max(0));
    }
}
