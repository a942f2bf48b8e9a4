//! The OAuth 2.0 endpoints of `auth` (token, introspection, revocation,
//! JWKS, discovery), passed through, so a client needs only the gateway's
//! address. The gateway dials auth over mutual TLS and checks it is the
//! `auth` workload; bodies are bounded; the client's own authentication
//! (Basic or form) travels unchanged to auth, which decides.
//!
//! The gateway's certificate lends the request no authority: auth's public
//! endpoints authenticate OAuth clients only. It does one thing there: it
//! makes auth trust the `x-forwarded-for` the gateway sets (to the TCP
//! peer's address, replacing anything the client sent), so failed logins
//! are throttled per real client address.

use std::net::IpAddr;

use axum::{body::Body, response::Response};
use bytes::Bytes;
use http::{HeaderValue, Request, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::Connection},
    rt::{TokioExecutor, TokioIo},
};
use mesh::{SpiffeId, tls::MeshTls};
use rustls::pki_types::ServerName;

use crate::{Gateway, problem::GatewayError};

/// Paths forwarded to auth.
pub(crate) const PATHS: &[&str] = &[
    "/oauth2/token",
    "/oauth2/introspect",
    "/oauth2/revoke",
    "/.well-known/jwks.json",
    "/.well-known/openid-configuration",
];

/// Request headers auth needs; nothing else crosses (`x-forwarded-for` is
/// set by the gateway, never copied).
const FORWARDED: &[header::HeaderName] =
    &[header::CONTENT_TYPE, header::AUTHORIZATION, header::ACCEPT];

/// The client's address, for auth's per-address throttling of guesses.
const FORWARDED_FOR: header::HeaderName = header::HeaderName::from_static("x-forwarded-for");

/// `ip` as a header value.
fn ip_header(ip: IpAddr) -> HeaderValue {
    HeaderValue::from_str(&ip.to_string()).expect("an IP address is a valid header value")
}

/// Response headers passed back.
const RETURNED: &[header::HeaderName] = &[
    header::CONTENT_TYPE,
    header::CACHE_CONTROL,
    header::PRAGMA,
    header::WWW_AUTHENTICATE,
    header::RETRY_AFTER,
];

/// An HTTP/2 client to auth's HTTPS port.
#[derive(Clone)]
pub(crate) struct AuthProxy {
    client: Client<Connector, Full<Bytes>>,
    authority: String,
}

impl std::fmt::Debug for AuthProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthProxy")
            .field("authority", &self.authority)
            .finish()
    }
}

/// Dials auth over mutual TLS.
#[derive(Clone)]
struct Connector {
    tls: MeshTls,
    addr: String,
    server_name: ServerName<'static>,
    expected: SpiffeId,
}

impl tower::Service<Uri> for Connector {
    type Response = Stream;
    type Error = std::io::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Stream>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let stream =
                mesh::client::connect(&this.tls, &this.addr, this.server_name, &this.expected)
                    .await?;
            Ok(Stream(TokioIo::new(stream)))
        })
    }
}

/// A TLS stream the legacy client can use.
struct Stream(TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>);

impl Connection for Stream {
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        hyper_util::client::legacy::connect::Connected::new()
    }
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AuthProxy {
    /// A proxy to auth's HTTPS port at `addr` (`host:port`).
    pub(crate) fn new(tls: &MeshTls, addr: &str) -> Result<Self, String> {
        let server_name = mesh::client::server_name(addr)?;
        let expected = tls
            .trust_domain()
            .workload("auth")
            .map_err(|e| e.to_string())?;
        let connector = Connector {
            tls: tls.clone(),
            addr: addr.to_owned(),
            server_name,
            expected,
        };
        let client = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build(connector);
        Ok(Self {
            client,
            authority: addr.to_owned(),
        })
    }

    /// Forwards one request to auth.
    pub(crate) async fn forward(
        &self,
        gw: &Gateway,
        request: Request<Body>,
        ip: Option<IpAddr>,
    ) -> Result<Response, GatewayError> {
        // The token endpoint is where passwords are guessed: limit it per source.
        if let Some(ip) = ip {
            gw.limits.check_ip(ip)?;
        }
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, gw.max_body_bytes)
            .await
            .map_err(|_| GatewayError::too_large(gw.max_body_bytes))?;
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let uri: Uri = format!("https://{}{path}", self.authority)
            .parse()
            .map_err(|e: http::uri::InvalidUri| GatewayError::internal(e.to_string()))?;
        let mut forward = Request::builder()
            .method(parts.method.clone())
            .uri(uri)
            .body(Full::new(body))
            .map_err(|e| GatewayError::internal(e.to_string()))?;
        for name in FORWARDED {
            if let Some(value) = parts.headers.get(name) {
                forward.headers_mut().insert(name.clone(), value.clone());
            }
        }
        if let Some(ip) = ip {
            forward.headers_mut().insert(FORWARDED_FOR, ip_header(ip));
        }
        // Without the query: a client may put credentials there by mistake,
        // and a span is no place for them.
        let url = format!("https://{}{}", self.authority, forward.uri().path());
        let span = mesh::telemetry::http_client_span(&parts.method, &url, &self.authority);
        mesh::telemetry::inject(&span, forward.headers_mut());
        let reply = tracing::Instrument::instrument(self.client.request(forward), span.clone());
        let reply = reply.await.map_err(|e| {
            tracing::warn!(error = %e, "auth is unreachable");
            GatewayError::from_status(&tonic::Status::unavailable("auth is unreachable"))
        })?;
        mesh::telemetry::record_http_status(&span, reply.status());
        let (reply_parts, reply_body) = reply.into_parts();
        let bytes = reply_body
            .collect()
            .await
            .map_err(|_| {
                GatewayError::from_status(&tonic::Status::unavailable("auth closed the response"))
            })?
            .to_bytes();
        let mut response = Response::new(Body::from(bytes));
        *response.status_mut() = reply_parts.status;
        for name in RETURNED {
            if let Some(value) = reply_parts.headers.get(name) {
                response.headers_mut().insert(name.clone(), value.clone());
            }
        }
        response
            .headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        Ok(response)
    }
}
