//! The REST scenario on hyper's HTTP/2 client directly, over a few
//! [`Connections`] to the gateway. No per-request URL parsing: the URI and
//! the token header are built once.

use std::sync::Arc;

use http::{Method, Request, Uri, header};
use http_body_util::{BodyExt, Full};

use super::{
    connect::{Connections, Dialer},
    outcome::Status,
    target::OrderTemplate,
    tokens::Tokens,
};

/// `POST /v1/orders` through the gateway.
#[derive(Debug)]
pub(crate) struct RestCall {
    conns: Connections,
    uri: Uri,
    template: OrderTemplate,
    tokens: Tokens,
}

const PAID: &[u8] = b"\"ORDER_STATUS_PAID\"";

impl RestCall {
    /// Opens `count` connections to the gateway behind `dialer` (at `base`).
    pub(crate) async fn connect(
        dialer: Arc<Dialer>,
        base: &str,
        count: usize,
        template: OrderTemplate,
        tokens: Tokens,
    ) -> anyhow::Result<Self> {
        let uri: Uri = format!("{base}/v1/orders")
            .parse()
            .map_err(|e| anyhow::anyhow!("--gateway {base}: {e}"))?;
        Ok(Self {
            conns: Connections::open(dialer, count).await?,
            uri,
            template,
            tokens,
        })
    }

    /// Places one order on worker `worker`'s connection.
    pub(crate) async fn call(&self, worker: usize, seq: u64) -> Status {
        let Some(mut sender) = self.conns.sender(worker).await else {
            return Status::Connection;
        };
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, self.tokens.current().header.clone())
            .body(Full::new(self.template.json(seq)));
        let Ok(request) = request else {
            return Status::Connection;
        };
        if sender.ready().await.is_err() {
            return Status::Connection;
        }
        let Ok(response) = sender.send_request(request).await else {
            return Status::Connection;
        };
        let status = response.status().as_u16();
        let Ok(body) = response.into_body().collect().await else {
            return Status::Connection;
        };
        if status == 200 && !body.to_bytes().windows(PAID.len()).any(|w| w == PAID) {
            return Status::NotPaid;
        }
        Status::Http(status)
    }
}
