//! Finishing interrupted sagas. At start-up and then every
//! `--resume-interval`, every unfinished order that no request is working
//! on is advanced with the workload's own token: an order whose request was
//! cut off by a crash, a deadline or an outage ends exactly once even if
//! its client never comes back.
//!
//! The workload's token can finish a charge the user started but cannot
//! start one (it owns no account; payments declines it), so an order whose
//! charge never reached payments is declined rather than paid without the
//! user's authority. A PENDING order is therefore left to its client's
//! retries for `--resume-after` first; a CANCELLING one is resumed at once
//! (orders may refund on its own authority).

use std::{sync::Weak, time::Duration};

use mesh::jwt::WorkloadCredentials;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use mesh::telemetry::error_chain as chain;

use crate::{
    handlers::OrdersService,
    metrics::Backlog,
    store::{OrderRow, State},
};

/// Orders looked at per pass.
const BATCH: i64 = 100;

/// When the resumer looks, and what it takes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// Time between two passes.
    pub(crate) interval: Duration,
    /// Age from which a PENDING order is resumed.
    pub(crate) after: Duration,
}

impl Schedule {
    /// Whether the resumer takes `order` now.
    fn is_due(&self, order: &OrderRow) -> bool {
        if order.state().ok() != Some(State::Pending) {
            return true;
        }
        let written = OffsetDateTime::parse(order.updated_at(), &Rfc3339);
        // An unreadable time is not a reason to leave an order unfinished.
        written.map_or(true, |at| OffsetDateTime::now_utc() - at >= self.after)
    }
}

/// Resumes unfinished orders until `service` is gone (the server stopped).
pub(crate) fn spawn(
    service: Weak<OrdersService>,
    credentials: WorkloadCredentials,
    schedule: Schedule,
    backlog: Backlog,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Some(service) = service.upgrade() else {
                return;
            };
            service.resume(&credentials, schedule, &backlog).await;
            drop(service);
            tokio::time::sleep(schedule.interval).await;
        }
    })
}

impl OrdersService {
    /// One pass over the unfinished orders nobody is working on.
    async fn resume(
        &self,
        credentials: &WorkloadCredentials,
        schedule: Schedule,
        backlog: &Backlog,
    ) {
        let orders = match self.store.unfinished(BATCH).await {
            Ok(orders) => {
                backlog.record(&orders);
                let due: Vec<OrderRow> =
                    orders.into_iter().filter(|o| schedule.is_due(o)).collect();
                if due.is_empty() {
                    return;
                }
                due
            }
            Err(error) => {
                tracing::error!(error = %chain(&error), "cannot look for unfinished orders");
                return;
            }
        };
        let caller = match credentials.caller().await {
            Ok(caller) => caller,
            Err(status) => {
                tracing::warn!(
                    orders = orders.len(),
                    message = status.message(),
                    "cannot resume orders without a workload token"
                );
                return;
            }
        };
        for order in orders {
            let Some(claim) = self.in_flight.claim(order.id.clone()) else {
                continue;
            };
            match self.advance(&caller, &order.id, &claim).await {
                Ok(order) => {
                    tracing::info!(order = %order.id, state = ?order.state().ok(), "resumed an order");
                }
                Err(error) => {
                    tracing::warn!(order = %order.id, error = %chain(&error), "could not advance an order");
                }
            }
        }
    }
}
