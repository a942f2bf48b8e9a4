//! The gRPC handlers of `payments.v1.Payments`. The policy layer has
//! already checked the peer, the token and its scopes; charges and refunds
//! live in their own modules, reads are here with their object-level rule:
//! a USER sees only payments from their own accounts, MANAGER and ADMIN
//! see all, and `orders` reads the payments of the orders it settles.

use mesh::{Caller, Metrics, Upstream, idempotency::InFlight, input, paging::Page};
use mesh_proto::payments::v1::{
    ChargeRequest, GetPaymentRequest, ListPaymentsRequest, ListPaymentsResponse, Payment,
    RefundRequest, payments_server::Payments,
};
use tonic::{Request, Response, Status};

use crate::{Error, policy::ORDERS, store::PaymentRow, store::Store};

/// The payments service: handlers over one [`Store`] and the `accounts` upstream.
#[derive(Debug)]
pub(crate) struct PaymentsService {
    pub(crate) store: Store,
    /// Mutual-TLS channels to `accounts`, carrying the caller's token.
    pub(crate) accounts: Upstream,
    /// For denials decided here rather than in the policy table.
    pub(crate) metrics: Metrics,
    /// Charges and refunds running now, by [`in_flight_key`].
    pub(crate) in_flight: InFlight,
}

impl PaymentsService {
    pub(crate) fn new(store: Store, accounts: Upstream, metrics: Metrics) -> Self {
        Self {
            store,
            accounts,
            metrics,
            in_flight: InFlight::default(),
        }
    }

    /// Whether `caller` may see `payment`.
    fn may_see(caller: &Caller, payment: &PaymentRow) -> bool {
        caller.peer().workload() == ORDERS || caller.may_access(&payment.owner)
    }
}

/// What a running charge or refund is claimed by: its kind (`charge` or
/// `refund`), and its idempotency key within its caller's scope.
pub(crate) fn in_flight_key(kind: &str, scope: &str, key: &str) -> String {
    format!("{kind}\0{scope}\0{key}")
}

#[tonic::async_trait]
impl Payments for PaymentsService {
    async fn charge(&self, request: Request<ChargeRequest>) -> Result<Response<Payment>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(
            PaymentsService::charge(self, caller, request.get_ref()).await?,
        ))
    }

    async fn refund(&self, request: Request<RefundRequest>) -> Result<Response<Payment>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(
            PaymentsService::refund(self, caller, request.get_ref()).await?,
        ))
    }

    async fn get_payment(
        &self,
        request: Request<GetPaymentRequest>,
    ) -> Result<Response<Payment>, Status> {
        let caller = Caller::of(&request)?;
        let id = input::id("payment_id", &request.get_ref().payment_id).map_err(Error::from)?;
        // Someone else's payment is NOT_FOUND, exactly like a missing one.
        let payment = self
            .store
            .payment(id)
            .await?
            .filter(|payment| Self::may_see(caller, payment))
            .ok_or(Error::NotFound)?;
        Ok(Response::new(payment.into_proto()))
    }

    async fn list_payments(
        &self,
        request: Request<ListPaymentsRequest>,
    ) -> Result<Response<ListPaymentsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let m = request.get_ref();
        let page = Page::parse(m.page_size, &m.page_token).map_err(Error::from)?;
        let owner = (!caller.claims().is_staff()).then(|| caller.subject());
        let mut rows = self.store.payments(owner, &page).await?;
        let next_page_token = page.finish(&mut rows, |payment| &payment.id);
        Ok(Response::new(ListPaymentsResponse {
            payments: rows.into_iter().map(PaymentRow::into_proto).collect(),
            next_page_token,
        }))
    }
}
