//! Starting a workload's own service in a test, and calling it with a
//! token: what every service's integration tests need besides the PKI and
//! the key server. Here once so that no service copies it into its fixture.

use std::{fmt::Debug, net::SocketAddr};

use tonic::{
    Request, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

use super::{Running, TestPki, raw_channel};
use crate::{Grpc, Server, ServerArgs, Workload};

/// A channel that adds the token to every call.
pub type Authed = InterceptedService<Channel, Bearer>;

/// Adds `authorization: Bearer <token>` to each request (or nothing).
#[derive(Debug, Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// Sends `token` on every call; `None` sends no `authorization` at all.
    pub fn new(token: Option<&str>) -> Self {
        Self(token.map(|t| format!("Bearer {t}").parse().expect("header value")))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

impl TestPki {
    /// Server arguments for `workload` on port 0, validating tokens with
    /// the key server `auth`.
    pub fn service_args(&self, workload: &str, auth: &Running) -> ServerArgs {
        let mut args = self.server_args(workload);
        args.jwt.auth_addr = auth.grpc_addr.to_string();
        args
    }

    /// A mutual-TLS channel to `addr` as workload `peer` (its certificate),
    /// with `token` on every call.
    pub fn authed_channel(&self, peer: &str, token: Option<&str>, addr: SocketAddr) -> Authed {
        let channel = raw_channel(&(&self.files(peer)).into(), &self.dir().ca_cert(), addr);
        InterceptedService::new(channel, Bearer::new(token))
    }
}

/// Starts `workload`'s server with `args`, builds its service with
/// `service`, waits for the first key set (so the first token does not
/// race the background fetch) and serves it in the background.
pub async fn spawn_service<E: Debug>(
    workload: Workload,
    args: ServerArgs,
    service: impl AsyncFnOnce(&Server) -> Result<Grpc, E>,
) -> Running {
    let server = Server::start(workload, args)
        .await
        .unwrap_or_else(|e| panic!("start {}: {e:?}", workload.name));
    let grpc = service(&server)
        .await
        .unwrap_or_else(|e| panic!("{} service: {e:?}", workload.name));
    server.validator().expect("validator").wait_ready().await;
    Running::spawn(server, grpc)
}
