//! A started gateway with an orders service behind it. The orders service
//! here is a small fixture that answers from the request and counts calls,
//! so these tests see exactly what the gateway sent; the end-to-end tests
//! in `tests/` run the real services.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use mesh::{
    Caller, Policy, Rule, Server,
    testing::{HttpReply, KeyServer, Running, TestPki, https_request, start_key_server},
};
use mesh_proto::orders::v1::{
    CancelOrderRequest, CreateOrderRequest, GetOrderRequest, ListOrdersRequest, ListOrdersResponse,
    Order, OrderStatus,
    orders_server::{Orders, OrdersServer, SERVICE_NAME},
};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

#[derive(Debug, Clone, Default)]
pub(crate) struct FixtureOrders {
    pub(crate) calls: Arc<AtomicUsize>,
}

impl FixtureOrders {
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn order(&self, caller: &Caller, id: &str) -> Order {
        Order {
            order_id: id.to_owned(),
            owner: caller.subject().to_owned(),
            status: OrderStatus::Paid as i32,
            amount_minor: 1250,
            currency: "EUR".to_owned(),
            ..Order::default()
        }
    }
}

#[tonic::async_trait]
impl Orders for FixtureOrders {
    async fn create_order(
        &self,
        request: Request<CreateOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let caller = Caller::of(&request)?;
        let mut order = self.order(caller, &format!("o-{}", request.get_ref().idempotency_key));
        order.items = request.get_ref().items.clone();
        order.account_id = request.get_ref().account_id.clone();
        Ok(Response::new(order))
    }

    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let caller = Caller::of(&request)?;
        if request.get_ref().order_id == "missing" {
            return Err(Status::not_found("no such order"));
        }
        Ok(Response::new(
            self.order(caller, &request.get_ref().order_id),
        ))
    }

    async fn list_orders(
        &self,
        request: Request<ListOrdersRequest>,
    ) -> Result<Response<ListOrdersResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let caller = Caller::of(&request)?;
        let size = request.get_ref().page_size.clamp(1, 5) as usize;
        Ok(Response::new(ListOrdersResponse {
            orders: (0..size)
                .map(|i| self.order(caller, &format!("o-{i}")))
                .collect(),
            next_page_token: format!("after-{}", request.get_ref().page_token),
        }))
    }

    async fn cancel_order(
        &self,
        request: Request<CancelOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let caller = Caller::of(&request)?;
        let mut order = self.order(caller, &request.get_ref().order_id);
        order.status = OrderStatus::Cancelled as i32;
        Ok(Response::new(order))
    }
}

/// A gateway in front of the fixture.
pub(crate) struct Stack {
    pub(crate) pki: TestPki,
    pub(crate) keys: KeyServer,
    pub(crate) orders: FixtureOrders,
    pub(crate) public: SocketAddr,
    pub(crate) admin: SocketAddr,
    _auth: Running,
    _orders: Running,
    stop: CancellationToken,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Stack {
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub(crate) async fn start_with(tune: impl FnOnce(&mut gateway::Args)) -> Self {
        let pki = TestPki::new();
        let (auth, keys) = start_key_server(&pki).await;

        let mut args = pki.server_args("orders");
        args.jwt.auth_addr = auth.grpc_addr.to_string();
        let server = Server::start(mesh::ORDERS, args)
            .await
            .expect("start orders");
        let orders = FixtureOrders::default();
        let policy = Policy::new().service(SERVICE_NAME, Rule::peers(["gateway"]));
        let grpc = server
            .grpc(policy)
            .add_service(OrdersServer::new(orders.clone()));
        server.validator().expect("validator").wait_ready().await;
        let orders_server = Running::spawn(server, grpc);

        let mut mesh_args = pki.server_args("gateway");
        mesh_args.jwt.auth_addr = auth.grpc_addr.to_string();
        let mut args = gateway::Args {
            mesh: mesh_args,
            gateway: gateway::GatewayArgs {
                public_listen: "127.0.0.1:0".parse().expect("addr"),
                orders_addr: orders_server.grpc_addr.to_string(),
                payments_addr: "127.0.0.1:9".to_owned(),
                accounts_addr: "127.0.0.1:9".to_owned(),
                auth_http_addr: "127.0.0.1:9".to_owned(),
                max_body_bytes: 16 * 1024,
                rate_limit_subject: 1000.try_into().expect("nonzero"),
                rate_limit_client: 1000.try_into().expect("nonzero"),
                rate_limit_ip: 1000.try_into().expect("nonzero"),
                rate_limit_burst_factor: 2.try_into().expect("nonzero"),
            },
        };
        tune(&mut args);
        let started = gateway::Started::start(args).await.expect("start gateway");
        started.validator().wait_ready().await;
        let (public, admin) = (started.public_addr(), started.admin_addr());
        let stop = CancellationToken::new();
        tokio::spawn(started.serve(stop.clone()));
        Self {
            pki,
            keys,
            orders,
            public,
            admin,
            _auth: auth,
            _orders: orders_server,
            stop,
        }
    }

    /// A valid token for `sub`, for the gateway and orders.
    pub(crate) fn token(&self, sub: &str) -> String {
        self.keys.issuer.token(
            "es-1",
            &self.keys.issuer.claims(sub, &["gateway", "orders"]),
        )
    }

    /// A REST call: `head` is the request line plus any extra header lines.
    pub(crate) async fn rest(&self, head: &str, body: &str) -> HttpReply {
        https_request(
            self.public,
            &self.pki.dir().ca_cert(),
            head,
            body.as_bytes(),
        )
        .await
    }

    /// A REST call with `token` and a JSON body.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: &str,
    ) -> HttpReply {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        );
        self.rest(&head, body).await
    }

    pub(crate) async fn metrics(&self) -> String {
        mesh::testing::http_get(self.admin, "/metrics").await.1
    }
}
