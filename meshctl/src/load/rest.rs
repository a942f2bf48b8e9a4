//! The REST scenario on hyper's HTTP/2 client directly: a few connections
//! to the gateway, each shared by many workers (HTTP/2 multiplexes), and
//! replaced if the gateway closes it. No pooling layer, no per-request
//! URL parsing: the URI and the token header are built once.

use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Method, Request, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::SendRequest;

use super::{connect::Dialer, outcome::Status, target::OrderTemplate, tokens::Tokens};

/// `POST /v1/orders` through the gateway.
#[derive(Debug)]
pub(crate) struct RestCall {
    conns: Vec<Conn>,
    dialer: Arc<Dialer>,
    uri: Uri,
    template: OrderTemplate,
    tokens: Tokens,
}

#[derive(Debug)]
struct Conn {
    sender: ArcSwap<SendRequest<Full<Bytes>>>,
    /// Held while replacing a closed connection, so only one worker redials.
    redial: tokio::sync::Mutex<()>,
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
        let mut conns = Vec::with_capacity(count);
        for _ in 0..count {
            conns.push(Conn {
                sender: ArcSwap::from_pointee(dialer.h2().await?),
                redial: tokio::sync::Mutex::new(()),
            });
        }
        Ok(Self {
            conns,
            dialer,
            uri,
            template,
            tokens,
        })
    }

    /// A live sender on connection `i`, redialing it if the gateway closed it.
    async fn sender(&self, i: usize) -> Option<SendRequest<Full<Bytes>>> {
        let conn = &self.conns[i % self.conns.len()];
        let current = conn.sender.load_full();
        if !current.is_closed() {
            return Some((*current).clone());
        }
        let _redialing = conn.redial.lock().await;
        let current = conn.sender.load_full();
        if !current.is_closed() {
            return Some((*current).clone());
        }
        let fresh = self.dialer.h2().await.ok()?;
        conn.sender.store(Arc::new(fresh.clone()));
        Some(fresh)
    }

    /// Places one order on worker `worker`'s connection.
    pub(crate) async fn call(&self, worker: usize, seq: u64) -> Status {
        let Some(mut sender) = self.sender(worker).await else {
            return Status::Connection;
        };
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, self.tokens.current().http.clone())
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
