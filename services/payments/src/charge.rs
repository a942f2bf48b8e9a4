//! A charge, step by step. Every step is written down before the remote
//! call that follows it, so a request with the same key, after a timeout
//! or a crash anywhere, continues from the last step instead of repeating
//! one:
//!
//! 1. A new key: ask `accounts` for the account **with the caller's
//!    token**, and charge it only if the token's subject owns it (case 47:
//!    staff see every account but pay from none of them); anyone else gets
//!    a DECLINED payment. This is the object-level check of charging, and
//!    it happens before anything is recorded, so a recorded charge was
//!    always authorized by the account's owner. A workload's own token owns
//!    no account: it can finish charges, never start one. With
//!    `validate_only` the charge stops here, recording nothing.
//! 2. Record the payment PENDING, with the account's owner.
//! 3. Debit the account, idempotent per payment id.
//! 4. Settle CAPTURED, or DECLINED with the account's reason.

use mesh::{Caller, input};
use mesh_proto::{
    accounts::v1::{DebitRequest, GetAccountRequest, accounts_client::AccountsClient},
    payments::v1::{ChargeRequest, Payment, PaymentStatus},
};
use tonic::Code;

use crate::{
    Error,
    handlers::{PaymentsService, in_flight_key},
    store::{NewCharge, PaymentRow, State},
};

/// Why a charge is declined when the caller may not use the account. The
/// same words whether the account is missing or someone else's.
const NOT_AUTHORIZED: &str = "the account does not exist or may not be charged by this caller";

/// The RPC, as the policy layer labels its denials.
const CHARGE_PATH: &str = "/payments.v1.Payments/Charge";

/// What `accounts` said about the account to charge.
enum Authorization {
    /// The caller may charge it: it belongs to the caller's subject.
    Owner(String),
    /// Missing, or not the caller's: refused before any money moves.
    NotTheCallers,
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
        if request.validate_only {
            return self.validate(caller, &charge).await;
        }
        let scope = caller.idempotency_scope();
        let _claim = self
            .in_flight
            .claim(in_flight_key("charge", scope, charge.key))
            .ok_or(Error::InProgress("a charge with this idempotency key"))?;

        let payment = match self.store.charge_by_key(scope, charge.key).await? {
            Some(payment) if !payment.is_for(&charge) => {
                return Err(Error::KeyReused("idempotency_key"));
            }
            Some(payment) => payment,
            None => match self.authorize(caller, &charge).await? {
                Authorization::Owner(owner) => {
                    self.store
                        .insert_charge(scope, &charge, &owner, State::Pending, "")
                        .await?
                }
                Authorization::NotTheCallers => {
                    let owner = caller.subject();
                    self.store
                        .insert_charge(scope, &charge, owner, State::Declined, NOT_AUTHORIZED)
                        .await?
                }
                Authorization::Declined { owner, reason } => {
                    self.store
                        .insert_charge(scope, &charge, &owner, State::Declined, &reason)
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

    /// Step 1 alone (`validate_only`): the payment as it would start,
    /// recording nothing; NOT_FOUND if the account is not the caller's.
    async fn validate(&self, caller: &Caller, charge: &NewCharge<'_>) -> Result<Payment, Error> {
        let (owner, status, decline_reason) = match self.authorize(caller, charge).await? {
            Authorization::Owner(owner) => (owner, PaymentStatus::Unspecified, String::new()),
            Authorization::NotTheCallers => return Err(Error::NotChargeable(NOT_AUTHORIZED)),
            Authorization::Declined { owner, reason } => (owner, PaymentStatus::Declined, reason),
        };
        Ok(Payment {
            account_id: charge.account_id.to_owned(),
            owner,
            amount_minor: charge.amount_minor,
            currency: charge.currency.to_owned(),
            status: status.into(),
            decline_reason,
            reference: charge.reference.to_owned(),
            ..Payment::default()
        })
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
                return Ok(Authorization::NotTheCallers);
            }
            Err(status) => return Err(Error::accounts("GetAccount", status)),
        };
        // Seeing an account (staff see all) is not paying from it.
        if account.owner != caller.subject() {
            self.metrics.authz_denied(CHARGE_PATH, "not_owner");
            tracing::warn!(by = caller.subject(), account = %account.account_id, "declined a charge on an account the caller does not own");
            return Ok(Authorization::NotTheCallers);
        }
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
