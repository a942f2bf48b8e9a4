//! A refund, step by step, like a charge: the refund is recorded (taking
//! the payment's one refund slot) before the account is credited, so a
//! request with the same key after a timeout or a crash finishes it
//! instead of crediting twice. The credit is idempotent per refund id.
//! Keys are the caller's own: staff cannot take the `cancel-<order>` key
//! orders will use, nor replay another caller's refund.

use mesh::{Caller, input};
use mesh_proto::{
    accounts::v1::{CreditRequest, accounts_client::AccountsClient},
    payments::v1::{Payment, RefundRequest},
};
use tonic::Code;

use crate::{
    Error,
    handlers::{PaymentsService, in_flight_key},
    policy::{ORDERS, REFUND_SCOPE},
    store::{RefundRow, RefundState},
};

/// The RPC, as the policy layer labels its denials.
const REFUND_PATH: &str = "/payments.v1.Payments/Refund";

impl PaymentsService {
    /// Refunds a captured payment once per idempotency key.
    pub(crate) async fn refund(
        &self,
        caller: &Caller,
        request: &RefundRequest,
    ) -> Result<Payment, Error> {
        self.may_refund(caller)?;
        let payment_id = input::id("payment_id", &request.payment_id)?;
        let key = input::key("idempotency_key", &request.idempotency_key)?;
        let reason = input::text("reason", &request.reason)?;
        let scope = caller.idempotency_scope();
        let _claim = self
            .in_flight
            .claim(in_flight_key("refund", scope, key))
            .ok_or(Error::InProgress("a refund with this idempotency key"))?;

        let refund = match self.store.refund_by_key(scope, key).await? {
            Some(refund) if refund.payment_id != payment_id => {
                return Err(Error::KeyReused("idempotency_key"));
            }
            Some(refund) => refund,
            None => {
                self.store
                    .start_refund(payment_id, scope, key, reason, caller.subject())
                    .await?
            }
        };
        match refund.state()? {
            RefundState::Done => self
                .store
                .payment(payment_id)
                .await?
                .map(|payment| payment.into_proto())
                .ok_or(Error::NotFound),
            RefundState::Refused => Err(refused(&refund.refusal)),
            RefundState::Pending => self.credit(caller, &refund).await,
        }
    }

    /// `orders` refunds the payment of an order it cancels; anyone else
    /// must be MANAGER or ADMIN with scope `payments:write`.
    fn may_refund(&self, caller: &Caller) -> Result<(), Error> {
        if caller.peer().workload() == ORDERS {
            return Ok(());
        }
        let claims = caller.claims();
        if claims.is_staff() && claims.has_scope(REFUND_SCOPE) {
            return Ok(());
        }
        let reason = if claims.is_staff() {
            "missing_scope"
        } else {
            "missing_role"
        };
        self.metrics.authz_denied(REFUND_PATH, reason);
        tracing::warn!(path = REFUND_PATH, sub = %claims.sub, reason, "denied a refund");
        Err(Error::Forbidden(
            "refunds need role MANAGER or ADMIN and scope payments:write",
        ))
    }

    /// Credits the account for a pending `refund` and settles it.
    pub(crate) async fn credit(
        &self,
        caller: &Caller,
        refund: &RefundRow,
    ) -> Result<Payment, Error> {
        let payment = self
            .store
            .payment(&refund.payment_id)
            .await?
            .ok_or_else(|| Error::Corrupt(format!("refund {} has no payment", refund.id)))?;
        let request = caller.request(CreditRequest {
            account_id: payment.account_id,
            amount_minor: payment.amount_minor,
            currency: payment.currency,
            refund_id: refund.id.clone(),
        });
        let reply = AccountsClient::new(self.accounts.channel())
            .credit(request)
            .await;
        match reply {
            Ok(_) => {
                let refunded = self.store.finish_refund(refund).await?;
                tracing::info!(payment = %refunded.id, amount = refunded.amount_minor, "refunded a payment");
                Ok(refunded.into_proto())
            }
            // A definite refusal (a frozen account), recorded by accounts
            // for this refund id: the payment stays CAPTURED.
            Err(status) if matches!(status.code(), Code::FailedPrecondition | Code::NotFound) => {
                self.store.refuse_refund(refund, status.message()).await?;
                Err(refused(status.message()))
            }
            Err(status) => Err(Error::accounts("Credit", status)),
        }
    }
}

/// The error of a refund the account refused, first time and on replay.
fn refused(refusal: &str) -> Error {
    Error::Refused(format!("the account refused the refund: {refusal}"))
}
