//! The gRPC handlers of `orders.v1.Orders`. The policy layer has already
//! checked the peer, the token and its scopes; each handler checks its
//! input and the object-level rule (a USER sees and cancels only their own
//! orders, MANAGER and ADMIN all of them; everyone pays only from their own
//! accounts), then runs the saga.

use std::collections::HashMap;

use aws_lc_rs::digest::{SHA256, digest};
use mesh::{Caller, Upstream, idempotency::InFlight, paging::Page};
use mesh_proto::orders::v1::{
    CancelOrderRequest, CreateOrderRequest, GetOrderRequest, ListOrdersRequest, ListOrdersResponse,
    Order, orders_server::Orders,
};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::{
    Error, input,
    store::{NewOrder, OrderRow, State, Store, new_id},
};

/// The orders service: handlers over one [`Store`] and the `payments` upstream.
#[derive(Debug)]
pub(crate) struct OrdersService {
    pub(crate) store: Store,
    /// Mutual-TLS channels to `payments`, carrying the caller's token.
    pub(crate) payments: Upstream,
    /// Orders (by id) and creations (by idempotency key) being worked on.
    pub(crate) in_flight: InFlight,
}

impl OrdersService {
    pub(crate) fn new(store: Store, payments: Upstream) -> Self {
        Self {
            store,
            payments,
            in_flight: InFlight::default(),
        }
    }

    /// Places an order once per (subject, idempotency key) and runs its charge.
    async fn create(&self, caller: &Caller, request: &CreateOrderRequest) -> Result<Order, Error> {
        // Only these fields of the request are read: anything else a client
        // sends (an amount, a status, an owner) has nowhere to go.
        let hash = request_hash(request);
        let new = NewOrder {
            owner: caller.subject(),
            key: input::key("idempotency_key", &request.idempotency_key)?,
            request_hash: &hash,
            account_id: input::id("account_id", &request.account_id)?,
            amount_minor: input::amount(&request.items)?,
            currency: input::currency(&request.currency)?,
            items: &request.items,
        };
        let _creating = self
            .in_flight
            .claim(format!("key\0{}\0{}", new.owner, new.key))
            .ok_or(Error::InProgress("an order with this idempotency key"))?;
        let (id, claim) = match self.store.order_by_key(new.owner, new.key).await? {
            Some(order) if order.request_hash != new.request_hash => {
                return Err(Error::KeyReused("idempotency_key"));
            }
            Some(order) if order.state()? != State::Pending => return self.with_items(order).await,
            Some(order) => {
                let claim = self
                    .in_flight
                    .claim(order.id.clone())
                    .ok_or(Error::InProgress("the payment of this order"))?;
                (order.id, claim)
            }
            None => {
                // Claimed before it is written, so the resumer never picks
                // up an order whose first charge is still being made.
                let id = new_id();
                let claim = self
                    .in_flight
                    .claim(id.clone())
                    .ok_or(Error::InProgress("the payment of this order"))?;
                // Nothing is written for an account the subject does not own.
                self.may_pay(caller, &id, &new).await?;
                self.store.insert(&id, &new).await?;
                tracing::info!(order = %id, owner = new.owner, amount = new.amount_minor, "placed an order");
                (id, claim)
            }
        };
        let order = match self.advance_retrying(caller, &id, &claim).await {
            Ok(order) => order,
            // Written PENDING; the resumer (or a retry) settles it.
            Err(error @ Error::Payments { .. }) => {
                tracing::warn!(order = %id, error = %mesh::telemetry::error_chain(&error), "order left pending");
                self.store.order(&id).await?.ok_or(Error::NotFound)?
            }
            Err(error) => return Err(error),
        };
        self.with_items(order).await
    }

    /// Cancels an order: a paid one is refunded first.
    async fn cancel(&self, caller: &Caller, request: &CancelOrderRequest) -> Result<Order, Error> {
        let reason = input::text("reason", &request.reason)?;
        let order = self.visible(caller, &request.order_id).await?;
        let claim = self
            .in_flight
            .claim(order.id.clone())
            .ok_or(Error::InProgress("the payment of this order"))?;
        // Read again under the claim: the resumer may have moved it since.
        let order = self.store.order(&order.id).await?.ok_or(Error::NotFound)?;
        match order.state()? {
            State::Pending => return Err(Error::InProgress("the payment of this order")),
            State::Declined => {
                return Err(Error::Refused(
                    "a declined order has nothing to cancel".to_owned(),
                ));
            }
            State::Paid => {
                // Written before the refund is asked for: a crash from here
                // on is finished by the resumer.
                self.store
                    .transition(&order.id, State::Paid, State::Cancelling, None, "")
                    .await?;
                tracing::info!(order = %order.id, by = caller.subject(), reason, "cancelling an order");
            }
            State::Cancelling | State::Cancelled => {}
        }
        let order = self.advance_retrying(caller, &order.id, &claim).await?;
        self.with_items(order).await
    }

    /// Order `id` if `caller` may see it. Someone else's order is NOT_FOUND,
    /// exactly like one that does not exist.
    async fn visible(&self, caller: &Caller, id: &str) -> Result<OrderRow, Error> {
        let id = input::id("order_id", id)?;
        self.store
            .order(id)
            .await?
            .filter(|order| caller.may_access(&order.owner))
            .ok_or(Error::NotFound)
    }

    /// `order` as the API shows it.
    async fn with_items(&self, order: OrderRow) -> Result<Order, Error> {
        let mut items = self.store.items(&[order.id.as_str()]).await?;
        let items = items.remove(&order.id).unwrap_or_default();
        Ok(order.into_proto(items))
    }
}

/// What tells a retry from a reused key: SHA-256 of the request's content
/// (the key itself aside), hex.
fn request_hash(request: &CreateOrderRequest) -> String {
    let content = CreateOrderRequest {
        idempotency_key: String::new(),
        ..request.clone()
    };
    digest(&SHA256, &content.encode_to_vec())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tonic::async_trait]
impl Orders for OrdersService {
    async fn create_order(
        &self,
        request: Request<CreateOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(self.create(caller, request.get_ref()).await?))
    }

    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let caller = Caller::of(&request)?;
        let order = self.visible(caller, &request.get_ref().order_id).await?;
        Ok(Response::new(self.with_items(order).await?))
    }

    async fn list_orders(
        &self,
        request: Request<ListOrdersRequest>,
    ) -> Result<Response<ListOrdersResponse>, Status> {
        let caller = Caller::of(&request)?;
        let m = request.get_ref();
        let page = Page::parse(m.page_size, &m.page_token).map_err(Error::from)?;
        let owner = (!caller.claims().is_staff()).then(|| caller.subject());
        let mut rows = self.store.orders(owner, &page).await?;
        let next_page_token = page.finish(&mut rows, |order| &order.id);
        let ids: Vec<&str> = rows.iter().map(|order| order.id.as_str()).collect();
        let mut items: HashMap<String, _> = self.store.items(&ids).await?;
        let orders = rows
            .into_iter()
            .map(|order| {
                let items = items.remove(&order.id).unwrap_or_default();
                order.into_proto(items)
            })
            .collect();
        Ok(Response::new(ListOrdersResponse {
            orders,
            next_page_token,
        }))
    }

    async fn cancel_order(
        &self,
        request: Request<CancelOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(self.cancel(caller, request.get_ref()).await?))
    }
}
