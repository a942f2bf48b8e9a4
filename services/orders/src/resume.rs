//! Finishing interrupted sagas. At start-up and then every
//! `--resume-interval`, every PENDING or CANCELLING order that no request
//! is working on is advanced with the workload's own token: an order whose
//! request was cut off by a crash, a deadline or a payments outage ends
//! exactly once even if its client never comes back.
//!
//! The workload's token can finish a charge the user started but cannot
//! start one (it owns no account; payments declines it), so an order whose
//! charge never reached payments is declined rather than paid without the
//! user's authority.

use std::{sync::Weak, time::Duration};

use mesh::jwt::WorkloadCredentials;

use crate::{error::chain, handlers::OrdersService};

/// Orders looked at per pass.
const BATCH: i64 = 100;

/// Resumes unfinished orders until `service` is gone (the server stopped).
pub(crate) fn spawn(
    service: Weak<OrdersService>,
    credentials: WorkloadCredentials,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Some(service) = service.upgrade() else {
                return;
            };
            service.resume(&credentials).await;
            drop(service);
            tokio::time::sleep(interval).await;
        }
    })
}

impl OrdersService {
    /// One pass over the unfinished orders nobody is working on.
    async fn resume(&self, credentials: &WorkloadCredentials) {
        let orders = match self.store.unfinished(BATCH).await {
            Ok(orders) if orders.is_empty() => return,
            Ok(orders) => orders,
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
