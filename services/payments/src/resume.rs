//! Finishing charges and refunds nobody is waiting for. A charge or refund
//! is recorded PENDING before `accounts` is called; if that call has no
//! definite answer (a crash, an outage) the next request with the same key
//! finishes it. `orders` always comes back for its charges and refunds,
//! but a MANAGER's refund may not, and until it is settled it holds the
//! payment's one refund slot. So at start-up and then every
//! `--resume-interval`, payments settles what has been PENDING for
//! `--resume-after` itself, with its own workload token (a recorded charge
//! was authorized with the user's token before it was written).

use std::{sync::Weak, time::Duration};

use mesh::{Caller, jwt::WorkloadCredentials};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::{
    Error,
    handlers::{PaymentsService, in_flight_key},
    store::{RefundState, State},
};

/// Charges, and refunds, looked at per pass.
const BATCH: i64 = 100;

/// When the resumer looks, and what it takes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// Time between two passes.
    pub(crate) interval: Duration,
    /// Age from which unfinished work is taken.
    pub(crate) after: Duration,
}

impl Schedule {
    /// Whether work last changed at `updated_at` (RFC 3339) is due.
    fn is_due(&self, updated_at: &str) -> bool {
        // An unreadable time is not a reason to leave work unfinished.
        OffsetDateTime::parse(updated_at, &Rfc3339)
            .map_or(true, |at| OffsetDateTime::now_utc() - at >= self.after)
    }
}

/// Resumes unfinished work until `service` is gone (the server stopped).
pub(crate) fn spawn(
    service: Weak<PaymentsService>,
    credentials: WorkloadCredentials,
    schedule: Schedule,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Some(service) = service.upgrade() else {
                return;
            };
            if let Err(error) = service.resume(&credentials, schedule).await {
                tracing::warn!(%error, "cannot finish pending payments now");
            }
            drop(service);
            tokio::time::sleep(schedule.interval).await;
        }
    })
}

impl PaymentsService {
    /// One pass over the due charges and refunds no request is working on.
    async fn resume(
        &self,
        credentials: &WorkloadCredentials,
        schedule: Schedule,
    ) -> Result<(), Error> {
        let mut charges = self.store.pending_charges(BATCH).await?;
        charges.retain(|charge| schedule.is_due(charge.updated_at()));
        let mut refunds = self.store.pending_refunds(BATCH).await?;
        refunds.retain(|refund| schedule.is_due(&refund.updated_at));
        if charges.is_empty() && refunds.is_empty() {
            return Ok(());
        }
        let caller: Caller = match credentials.caller().await {
            Ok(caller) => caller,
            Err(status) => {
                tracing::warn!(
                    message = status.message(),
                    "cannot finish pending payments without a workload token"
                );
                return Ok(());
            }
        };
        for charge in charges {
            let Some(_claim) = self.in_flight.claim(in_flight_key(
                "charge",
                charge.scope(),
                charge.idempotency_key(),
            )) else {
                continue;
            };
            // The list was read before the claim: a request may have
            // finished the charge since. Settling it again would be
            // harmless (the debit is idempotent) but would hold the key,
            // and a client's retry meanwhile would be told to wait.
            let id = charge.id.clone();
            let Some(charge) = self.store.payment(&id).await? else {
                continue;
            };
            if charge.state()? != State::Pending {
                continue;
            }
            match self.debit(&caller, charge).await {
                Ok(settled) => {
                    tracing::info!(payment = %id, state = ?settled.state().ok(), "finished a charge")
                }
                Err(error) => tracing::warn!(payment = %id, %error, "a charge is still pending"),
            }
        }
        for refund in refunds {
            let Some(_claim) = self.in_flight.claim(in_flight_key(
                "refund",
                &refund.scope,
                &refund.idempotency_key,
            )) else {
                continue;
            };
            let still_pending = self
                .store
                .refund_by_key(&refund.scope, &refund.idempotency_key)
                .await?
                .is_some_and(|r| r.state().is_ok_and(|state| state == RefundState::Pending));
            if !still_pending {
                continue;
            }
            match self.credit(&caller, &refund).await {
                Ok(_) => tracing::info!(refund = %refund.id, "finished a refund"),
                Err(error) => {
                    tracing::warn!(refund = %refund.id, %error, "a refund is not finished")
                }
            }
        }
        Ok(())
    }
}
