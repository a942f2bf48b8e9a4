//! The payment saga of one order: the remote steps, each taken from the
//! state written before it and recorded after it.
//!
//! - Before anything is written: may the subject pay from that account?
//!   Only its owner may (case 47); payments answers with `validate_only`.
//!   Without a definite answer (payments down) the order is written all
//!   the same: its charge makes the same check before any money moves,
//!   and declines it.
//! - PENDING: charge under [`charge_key`], one charge per order whoever
//!   asks (the user's request, a retry, or the resumer after a crash);
//!   then PAID, or DECLINED with the reason.
//! - CANCELLING: refund under [`refund_key`]; then CANCELLED, or back to
//!   PAID if the account refuses the money.
//!
//! A step without a definite answer (payments down, a deadline) leaves the
//! order as it was written; the next attempt repeats the same idempotent
//! call. The caller holds the order's [`Claim`], so only one attempt runs
//! at a time in this process; the store's conditional updates settle the
//! rest.

use std::time::Duration;

use mesh::{Caller, idempotency::Claim};
use mesh_proto::payments::v1::{
    ChargeRequest, GetPaymentRequest, PaymentStatus, RefundRequest, payments_client::PaymentsClient,
};
use tonic::{Code, Status};

use crate::{
    Error,
    handlers::OrdersService,
    store::{NewOrder, OrderRow, State},
};

/// How long a call may take when the caller set no deadline (the resumer).
const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request keeps retrying a step without a definite answer
/// (payments or accounts restarting) before it answers with the order as
/// written; kept under the caller's deadline.
const RETRY_FOR: Duration = Duration::from_secs(3);

/// Time kept back from the caller's deadline to answer it.
const ANSWER_MARGIN: Duration = Duration::from_millis(100);

/// The idempotency key of an order's charge.
pub fn charge_key(order_id: &str) -> String {
    format!("order-{order_id}")
}

/// The idempotency key of an order's refund.
pub fn refund_key(order_id: &str) -> String {
    format!("cancel-{order_id}")
}

/// An outgoing request for `caller`, with a deadline even if it has none.
fn request<T>(caller: &Caller, message: T) -> tonic::Request<T> {
    let mut request = caller.request(message);
    if caller.remaining().is_none() {
        request.set_timeout(DEFAULT_CALL_TIMEOUT);
    }
    request
}

impl OrdersService {
    /// Whether `caller` may pay order `id` of `new` from its account (only
    /// its owner may), asked of payments before the order is written. Only
    /// a definite no refuses; see the module documentation.
    pub(crate) async fn may_pay(
        &self,
        caller: &Caller,
        id: &str,
        new: &NewOrder<'_>,
    ) -> Result<(), Error> {
        let check = request(
            caller,
            ChargeRequest {
                account_id: new.account_id.to_owned(),
                amount_minor: new.amount_minor,
                currency: new.currency.to_owned(),
                idempotency_key: charge_key(id),
                reference: id.to_owned(),
                validate_only: true,
            },
        );
        match PaymentsClient::new(self.payments.channel())
            .charge(check)
            .await
        {
            Ok(_) => Ok(()),
            Err(status) if status.code() == Code::NotFound => Err(Error::AccountNotFound),
            Err(status) => {
                tracing::warn!(order = id, code = ?status.code(), message = status.message(), "payments did not check the account; the charge will");
                Ok(())
            }
        }
    }

    /// Takes claimed order `id` as far as it goes as `caller`: charges a
    /// PENDING order, refunds a CANCELLING one, returns any other as it is.
    pub(crate) async fn advance(
        &self,
        caller: &Caller,
        id: &str,
        _claim: &Claim,
    ) -> Result<OrderRow, Error> {
        let order = self.store.order(id).await?.ok_or(Error::NotFound)?;
        match order.state()? {
            State::Pending => self.charge(caller, order).await,
            State::Cancelling => self.refund(caller, order).await,
            State::Paid | State::Declined | State::Cancelled => Ok(order),
        }
    }

    /// [`OrdersService::advance`] for a waiting caller: a step without a
    /// definite answer is tried again, with the caller's token, for a few
    /// seconds within its deadline, so a short outage does not leave the
    /// order to the resumer (which cannot start a charge).
    pub(crate) async fn advance_retrying(
        &self,
        caller: &Caller,
        id: &str,
        claim: &Claim,
    ) -> Result<OrderRow, Error> {
        let budget = caller.remaining().map_or(RETRY_FOR, |left| {
            left.saturating_sub(ANSWER_MARGIN).min(RETRY_FOR)
        });
        let give_up = tokio::time::Instant::now() + budget;
        let mut pause = Duration::from_millis(50);
        loop {
            match self.advance(caller, id, claim).await {
                Err(Error::Payments { .. }) if tokio::time::Instant::now() + pause < give_up => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                outcome => return outcome,
            }
        }
    }

    /// PENDING → PAID or DECLINED.
    async fn charge(&self, caller: &Caller, order: OrderRow) -> Result<OrderRow, Error> {
        let charge = request(
            caller,
            ChargeRequest {
                account_id: order.account_id.clone(),
                amount_minor: order.amount_minor,
                currency: order.currency.clone(),
                idempotency_key: charge_key(&order.id),
                reference: order.id.clone(),
                validate_only: false,
            },
        );
        let reply = PaymentsClient::new(self.payments.channel())
            .charge(charge)
            .await;
        let (to, payment_id, reason) = match reply {
            Ok(payment) => {
                let payment = payment.into_inner();
                match payment.status() {
                    PaymentStatus::Captured => (State::Paid, payment.payment_id, String::new()),
                    PaymentStatus::Declined => {
                        (State::Declined, payment.payment_id, payment.decline_reason)
                    }
                    // Refunded by staff before this order saw the capture.
                    PaymentStatus::Refunded => {
                        (State::Cancelled, payment.payment_id, String::new())
                    }
                    PaymentStatus::Unspecified => {
                        let pending = Status::unavailable("the payment is not settled yet");
                        return Err(Error::payments("Charge", pending));
                    }
                }
            }
            // Payments refused the request itself: nothing was charged.
            Err(status) if refuses(status.code()) => {
                tracing::warn!(order = %order.id, code = ?status.code(), message = status.message(), "payments refused a charge");
                (
                    State::Declined,
                    String::new(),
                    "the payment service refused the charge".to_owned(),
                )
            }
            Err(status) => return Err(Error::payments("Charge", status)),
        };
        let payment = Some(payment_id.as_str()).filter(|id| !id.is_empty());
        self.settle(&order, State::Pending, to, payment, &reason)
            .await
    }

    /// CANCELLING → CANCELLED, or back to PAID if the account refuses.
    async fn refund(&self, caller: &Caller, order: OrderRow) -> Result<OrderRow, Error> {
        let refund = request(
            caller,
            RefundRequest {
                payment_id: order.payment_id.clone(),
                idempotency_key: refund_key(&order.id),
                reason: format!("order {} cancelled", order.id),
            },
        );
        let reply = PaymentsClient::new(self.payments.channel())
            .refund(refund)
            .await;
        match reply {
            Ok(payment) if payment.get_ref().status() == PaymentStatus::Refunded => {
                self.settle(&order, State::Cancelling, State::Cancelled, None, "")
                    .await
            }
            Ok(_) => Err(Error::payments(
                "Refund",
                Status::unavailable("the refund is not settled yet"),
            )),
            Err(status) if status.code() == Code::FailedPrecondition => {
                if self.is_refunded(caller, &order).await? {
                    return self
                        .settle(&order, State::Cancelling, State::Cancelled, None, "")
                        .await;
                }
                self.settle(&order, State::Cancelling, State::Paid, None, "")
                    .await?;
                Err(Error::Refused(format!(
                    "the order cannot be refunded: {}",
                    status.message()
                )))
            }
            Err(status) => Err(Error::payments("Refund", status)),
        }
    }

    /// Whether the order's payment was refunded some other way (by staff).
    async fn is_refunded(&self, caller: &Caller, order: &OrderRow) -> Result<bool, Error> {
        let get = request(
            caller,
            GetPaymentRequest {
                payment_id: order.payment_id.clone(),
            },
        );
        let payment = PaymentsClient::new(self.payments.channel())
            .get_payment(get)
            .await
            .map_err(|status| Error::payments("GetPayment", status))?;
        Ok(payment.get_ref().status() == PaymentStatus::Refunded)
    }

    /// Records the step's outcome, unless another driver recorded one first
    /// (then that one stands).
    async fn settle(
        &self,
        order: &OrderRow,
        from: State,
        to: State,
        payment_id: Option<&str>,
        reason: &str,
    ) -> Result<OrderRow, Error> {
        if let Some(settled) = self
            .store
            .transition(&order.id, from, to, payment_id, reason)
            .await?
        {
            tracing::info!(order = %order.id, amount = order.amount_minor, from = ?from, to = ?to, "order settled");
            return Ok(settled);
        }
        self.store.order(&order.id).await?.ok_or(Error::NotFound)
    }
}

/// Answers of payments that refuse the request itself, so retrying cannot
/// help and nothing was charged.
fn refuses(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::PermissionDenied
            | Code::Unimplemented
            | Code::NotFound
    )
}
