//! A charge, step by step. Every step is written down before the remote
//! call that follows it, so a request with the same key, after a timeout
//! or a crash anywhere, continues from the last step instead of repeating
//! one:
//!
//! 1. A new key: ask `accounts` for the account **with the caller's
//!    token**. Only a caller who may see the account (its owner, or staff)
//!    learns its owner; anyone else gets a DECLINED payment. This is the
//!    object-level check of charging, and it happens before anything is
//!    recorded, so a recorded charge was always authorized by a user. A
//!    workload's own token owns no account: it can finish charges, never
//!    start one.
//! 2. Record the payment PENDING, with the account's owner.
//! 3. Debit the account, idempotent per payment id.
//! 4. Settle CAPTURED, or DECLINED with the account's reason.

use mesh::{Caller, input};
use mesh_proto::{
    accounts::v1::{DebitRequest, GetAccountRequest, accounts_client::AccountsClient},
    payments::v1::{ChargeRequest, Payment},
};
use tonic::Code;

use crate::{
    Error,
    handlers::PaymentsService,
    store::{NewCharge, PaymentRow, State},
};

/// Why a charge is declined when the caller may not use the account. The
/// same words whether the account is missing or someone else's.
const NOT_AUTHORIZED: &str = "the account does not exist or may not be charged by this caller";

/// What `accounts` said about the account to charge.
enum Authorization {
    /// The caller may charge it; it belongs to this subject.
    Owner(String),
    /// The charge is declined before any money moves.
    Declined { owner: String, reason: String },
}

impl PaymentsService {
    /// Charges once per idempotency key; see the module documentation.
    pub(crate) async fn charge(
        &self,
        caller: &Caller,
        request: &ChargeRequest,
    ) -> Result<Payment, Error> {
        let charge = NewCharge {
            key: input::key("idempotency_key", &request.idempotency_key)?,
            account_id: input::id("account_id", &request.account_id)?,
            amount_minor: input::amount(request.amount_minor)?,
            currency: input::currency(&request.currency)?,
            reference: input::text("reference", &request.reference)?,
        };
        let _claim = self
            .in_flight
            .claim(format!("charge:{}", charge.key))
            .ok_or(Error::InProgress("a charge with this idempotency key"))?;

        let payment = match self.store.charge_by_key(charge.key).await? {
            Some(payment) if !payment.is_for(&charge) => {
                return Err(Error::KeyReused("idempotency_key"));
            }
            Some(payment) => payment,
            None => match self.authorize(caller, &charge).await? {
                Authorization::Owner(owner) => {
                    self.store
                        .insert_charge(&charge, &owner, State::Pending, "")
                        .await?
                }
                Authorization::Declined { owner, reason } => {
                    self.store
                        .insert_charge(&charge, &owner, State::Declined, &reason)
                        .await?
                }
            },
        };
        if payment.state()? != State::Pending {
            return Ok(payment.into_proto());
        }
        let settled = self.debit(caller, payment).await?;
        tracing::info!(
            payment = %settled.id,
            account = %settled.account_id,
            amount = settled.amount_minor,
            state = ?settled.state()?,
            "settled a charge"
        );
        Ok(settled.into_proto())
    }

    /// Step 1: may `caller` charge the account, and whose is it?
    async fn authorize(
        &self,
        caller: &Caller,
        charge: &NewCharge<'_>,
    ) -> Result<Authorization, Error> {
        let request = caller.request(GetAccountRequest {
            account_id: charge.account_id.to_owned(),
        });
        let reply = AccountsClient::new(self.accounts.channel())
            .get_account(request)
            .await;
        let account = match reply {
            Ok(account) => account.into_inner(),
            Err(status)
                if matches!(
                    status.code(),
                    Code::NotFound | Code::PermissionDenied | Code::InvalidArgument
                ) =>
            {
                tracing::info!(by = caller.subject(), code = ?status.code(), "declined a charge the caller may not make");
                return Ok(Authorization::Declined {
                    owner: caller.subject().to_owned(),
                    reason: NOT_AUTHORIZED.to_owned(),
                });
            }
            Err(status) => return Err(Error::accounts("GetAccount", status)),
        };
        if account.currency != charge.currency {
            return Ok(Authorization::Declined {
                owner: account.owner,
                reason: format!("the account's currency is {}", account.currency),
            });
        }
        Ok(Authorization::Owner(account.owner))
    }

    /// Steps 3 and 4: debit the account for `payment` and settle it.
    pub(crate) async fn debit(
        &self,
        caller: &Caller,
        payment: PaymentRow,
    ) -> Result<PaymentRow, Error> {
        let request = caller.request(DebitRequest {
            account_id: payment.account_id.clone(),
            amount_minor: payment.amount_minor,
            currency: payment.currency.clone(),
            payment_id: payment.id.clone(),
        });
        let reply = AccountsClient::new(self.accounts.channel())
            .debit(request)
            .await;
        match reply {
            Ok(_) => self.store.settle(&payment.id, State::Captured, "").await,
            // A definite refusal, recorded by accounts for this payment id:
            // insufficient funds, a frozen account, another currency.
            Err(status) if matches!(status.code(), Code::FailedPrecondition | Code::NotFound) => {
                self.store
                    .settle(&payment.id, State::Declined, status.message())
                    .await
            }
            // No definite answer: the payment stays PENDING for the next try.
            Err(status) => Err(Error::accounts("Debit", status)),
        }
    }
}
