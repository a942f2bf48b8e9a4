//! Clients of the cluster: the gateway's identity with tokens minted by the
//! key server, retrying what a killed or restarting service answers.

use std::{future::Future, net::SocketAddr, time::Duration};

use mesh::testing::{KeyServer, TestPki, raw_channel};
use mesh_proto::{
    accounts::v1::accounts_client::AccountsClient, orders::v1::orders_client::OrdersClient,
    payments::v1::payments_client::PaymentsClient,
};
use serde_json::json;
use tonic::{
    Code, Request, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

/// Transient failures seen by all clients, for the report.
pub(super) static RETRIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How long one request is retried before the test gives up on it.
const RETRY_FOR: Duration = Duration::from_secs(60);

/// Each attempt's deadline, so a call to a killed process cannot hang.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// A channel that adds the token and a deadline to every call.
pub(crate) type Authed = InterceptedService<Channel, Bearer>;

/// Adds `authorization: Bearer <token>` to each request, and a deadline
/// to those without one.
#[derive(Debug, Clone)]
pub(crate) struct Bearer(MetadataValue<Ascii>);

/// `channel`, sending `token` with every call.
pub(crate) fn authed(channel: Channel, token: &str) -> Authed {
    let value = format!("Bearer {token}").parse().expect("header value");
    InterceptedService::new(channel, Bearer(value))
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        if !request.metadata().contains_key("grpc-timeout") {
            request.set_timeout(ATTEMPT_TIMEOUT);
        }
        Ok(request)
    }
}

/// Mints tokens and opens channels as the gateway.
pub(super) struct Clients<'a> {
    pub(super) pki: &'a TestPki,
    pub(super) keys: &'a KeyServer,
}

impl Clients<'_> {
    /// A token for `sub` with `roles`, valid at every hop (propagate mode).
    pub(super) fn token(&self, sub: &str, roles: &[&str]) -> String {
        let mut claims = self
            .keys
            .issuer
            .claims(sub, &["orders", "payments", "accounts"]);
        claims["roles"] = json!(roles);
        self.keys.issuer.token("es-1", &claims)
    }

    fn channel(&self, sub: &str, roles: &[&str], addr: SocketAddr) -> Authed {
        let channel = raw_channel(
            &(&self.pki.files("gateway")).into(),
            &self.pki.dir().ca_cert(),
            addr,
        );
        authed(channel, &self.token(sub, roles))
    }

    /// Accounts, for `sub` with `roles`.
    pub(super) fn accounts(
        &self,
        sub: &str,
        roles: &[&str],
        addr: SocketAddr,
    ) -> AccountsClient<Authed> {
        AccountsClient::new(self.channel(sub, roles, addr))
    }

    /// Payments, for `sub` with `roles`.
    pub(super) fn payments(
        &self,
        sub: &str,
        roles: &[&str],
        addr: SocketAddr,
    ) -> PaymentsClient<Authed> {
        PaymentsClient::new(self.channel(sub, roles, addr))
    }

    /// Orders, for `sub` with `roles`.
    pub(super) fn orders(
        &self,
        sub: &str,
        roles: &[&str],
        addr: SocketAddr,
    ) -> OrdersClient<Authed> {
        OrdersClient::new(self.channel(sub, roles, addr))
    }
}

/// Answers a retry with the same request may turn into a definite one: a
/// killed process (unavailable, reset), one restarting (its keys not
/// fetched yet), a deadline, or a request with the same key in flight.
fn transient(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Unknown
            | Code::Aborted
    )
}

/// Sends `request` with `client` until it gets a definite answer, for at
/// most [`RETRY_FOR`], pausing a little more after each transient failure.
/// This is the client's retry policy (the same request, so the same
/// idempotency key), not a wait for readiness: the services are being
/// killed on purpose.
pub(crate) async fn retry<C, R, T, F, Fut>(client: &C, request: &R, call: F) -> Result<T, Status>
where
    C: Clone,
    R: Clone,
    F: Fn(C, R) -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, Status>>,
{
    let give_up = tokio::time::Instant::now() + RETRY_FOR;
    let mut pause = Duration::from_millis(20);
    loop {
        match call(client.clone(), request.clone()).await {
            Ok(response) => return Ok(response.into_inner()),
            Err(status) if transient(status.code()) && tokio::time::Instant::now() < give_up => {
                RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            Err(status) => return Err(status),
        }
    }
}
