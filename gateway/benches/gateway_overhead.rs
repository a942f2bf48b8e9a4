//! What the gateway costs, measured side by side in one run:
//!
//! - gRPC straight to the service (mutual TLS as `loadgen`, bearer token);
//! - the same gRPC call through the gateway (TLS, bearer token, edge
//!   checks, token exchange cached, a second mutual-TLS hop);
//! - the same call as REST/JSON through the gateway (HTTP/2, transcoding).
//!
//! `cargo bench -p gateway --bench gateway_overhead` prints a Markdown
//! table of calls per second and ratios. The service behind is a minimal
//! `orders.v1.Orders` whose `GetOrder` answers from the request, so the
//! hops, not the handler, dominate. Rounds alternate; loops are bounded.

use std::{net::SocketAddr, time::Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh::{
    Caller, Policy, Rule, Server,
    testing::{
        ClientCert, Running, TestPki, raw_channel, raw_client_config, start_key_server, tls_connect,
    },
};
use mesh_proto::orders::v1::{
    CancelOrderRequest, CreateOrderRequest, GetOrderRequest, ListOrdersRequest, ListOrdersResponse,
    Order,
    orders_client::OrdersClient,
    orders_server::{Orders, OrdersServer, SERVICE_NAME},
};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, transport::Channel};

#[derive(Debug, Clone, Copy)]
struct Echo;

#[tonic::async_trait]
impl Orders for Echo {
    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let owner = Caller::of(&request)?.subject().to_owned();
        Ok(Response::new(Order {
            order_id: request.into_inner().order_id,
            owner,
            amount_minor: 1250,
            currency: "EUR".to_owned(),
            ..Order::default()
        }))
    }

    async fn create_order(
        &self,
        _: Request<CreateOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        Err(Status::unimplemented("not benchmarked"))
    }

    async fn list_orders(
        &self,
        _: Request<ListOrdersRequest>,
    ) -> Result<Response<ListOrdersResponse>, Status> {
        Err(Status::unimplemented("not benchmarked"))
    }

    async fn cancel_order(
        &self,
        _: Request<CancelOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        Err(Status::unimplemented("not benchmarked"))
    }
}

const CONNECTIONS: usize = 4;
const CONCURRENCY: usize = 64;
const CALLS: usize = 20_000;
const ROUNDS: usize = 3;

async fn grpc_rate(channels: &[Channel], token: &str, total: usize) -> f64 {
    let header: tonic::metadata::MetadataValue<_> =
        format!("Bearer {token}").parse().expect("header");
    let per_task = total / CONCURRENCY;
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|i| {
            let mut client = OrdersClient::new(channels[i % channels.len()].clone());
            let header = header.clone();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    let mut request = Request::new(GetOrderRequest {
                        order_id: "o-1".to_owned(),
                    });
                    request
                        .metadata_mut()
                        .insert("authorization", header.clone());
                    client.get_order(request).await.expect("gRPC call");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    (per_task * CONCURRENCY) as f64 / start.elapsed().as_secs_f64()
}

type RestClient = hyper::client::conn::http2::SendRequest<Empty<Bytes>>;

/// One HTTP/2 connection to the gateway's public port (ALPN h2).
async fn rest_client(ca: &std::path::Path, addr: SocketAddr) -> RestClient {
    let tls = tls_connect(raw_client_config(&ClientCert::None, ca), addr)
        .await
        .expect("TLS");
    let (send, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    send
}

async fn rest_rate(clients: &[RestClient], public: SocketAddr, token: &str, total: usize) -> f64 {
    let per_task = total / CONCURRENCY;
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|i| {
            let mut client = clients[i % clients.len()].clone();
            let auth = format!("Bearer {token}");
            tokio::spawn(async move {
                for _ in 0..per_task {
                    let request = http::Request::get(format!(
                        "https://localhost:{}/v1/orders/o-1",
                        public.port()
                    ))
                    .header("authorization", &auth)
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                    client.ready().await.expect("connection ready");
                    let response = client.send_request(request).await.expect("REST call");
                    assert!(response.status().is_success(), "{}", response.status());
                    response.into_body().collect().await.expect("body");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    (per_task * CONCURRENCY) as f64 / start.elapsed().as_secs_f64()
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

async fn run() {
    let pki = TestPki::new();
    let (auth, keys) = start_key_server(&pki).await;

    let mut args = pki.server_args("orders");
    args.jwt.auth_addr = auth.grpc_addr.to_string();
    let server = Server::start(mesh::ORDERS, args).await.expect("orders");
    let policy = Policy::new().service(SERVICE_NAME, Rule::peers(["gateway", "loadgen"]));
    let grpc = server.grpc(policy).add_service(OrdersServer::new(Echo));
    server.validator().expect("validator").wait_ready().await;
    let orders = Running::spawn(server, grpc);

    let mut mesh_args = pki.server_args("gateway");
    mesh_args.jwt.auth_addr = auth.grpc_addr.to_string();
    let many = 1_000_000.try_into().expect("nonzero");
    let args = gateway::Args {
        mesh: mesh_args,
        gateway: gateway::GatewayArgs {
            public_listen: "127.0.0.1:0".parse().expect("addr"),
            orders_addr: orders.grpc_addr.to_string(),
            payments_addr: "127.0.0.1:9".to_owned(),
            accounts_addr: "127.0.0.1:9".to_owned(),
            auth_http_addr: "127.0.0.1:9".to_owned(),
            max_body_bytes: 64 * 1024,
            rate_limit_subject: many,
            rate_limit_client: many,
            rate_limit_ip: many,
            rate_limit_burst_factor: 2.try_into().expect("nonzero"),
        },
    };
    let started = gateway::Started::start(args).await.expect("gateway");
    started.validator().wait_ready().await;
    let public = started.public_addr();
    let stop = CancellationToken::new();
    tokio::spawn(started.serve(stop.clone()));

    let token = keys
        .issuer
        .token("es-1", &keys.issuer.claims("alice", &["gateway", "orders"]));
    let ca = pki.dir().ca_cert();
    let loadgen = ClientCert::from(&pki.files("loadgen"));
    let direct: Vec<Channel> = (0..CONNECTIONS)
        .map(|_| raw_channel(&loadgen, &ca, orders.grpc_addr))
        .collect();
    let via: Vec<Channel> = (0..CONNECTIONS)
        .map(|_| raw_channel(&ClientCert::None, &ca, public))
        .collect();
    let mut rest = Vec::new();
    for _ in 0..CONNECTIONS {
        rest.push(rest_client(&ca, public).await);
    }

    grpc_rate(&direct, &token, 2_000).await;
    grpc_rate(&via, &token, 2_000).await;
    rest_rate(&rest, public, &token, 2_000).await;
    let (mut d, mut g, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        d.push(grpc_rate(&direct, &token, CALLS).await);
        g.push(grpc_rate(&via, &token, CALLS).await);
        r.push(rest_rate(&rest, public, &token, CALLS).await);
    }
    let (d, g, r) = (median(d), median(g), median(r));
    println!("| path | calls/s (median of {ROUNDS}) | ratio |");
    println!("|---|---:|---:|");
    println!("| gRPC direct to the service (mTLS + JWT) | {d:.0} | 1.00 |");
    println!(
        "| gRPC through the gateway | {g:.0} | {:.2} of direct |",
        g / d
    );
    println!(
        "| REST/JSON through the gateway | {r:.0} | {:.2} of direct gRPC |",
        r / d
    );
    println!();
    println!(
        "{CALLS} GetOrder calls per round and path, {CONCURRENCY} in flight over {CONNECTIONS} connections, everything in one process."
    );
    stop.cancel();
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}
