//! A small HTTPS client for the tests and the benchmark: HTTP/1.1 over
//! tokio-rustls (the workspace's one TLS stack), trusting the test CA and
//! presenting a workload certificate or none.

use std::{net::SocketAddr, path::Path, sync::Arc};

use http_body_util::{BodyExt, Full};
use hyper::{
    HeaderMap, Request, StatusCode,
    body::Bytes,
    client::conn::http1::{self, SendRequest},
};
use hyper_util::rt::TokioIo;
use mesh::testing::{ClientCert, raw_client_config, tls_connect};
use rustls::ClientConfig;

/// Where to connect and how.
#[derive(Clone, Debug)]
pub(crate) struct Https {
    addr: SocketAddr,
    config: Arc<ClientConfig>,
}

/// One answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    /// The body as JSON; panics with the body if it is not.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `error` member of an OAuth2 error body.
    pub(crate) fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }

    /// A header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Https {
    /// A client of `addr` trusting `ca`, presenting `cert`.
    pub(crate) fn new(addr: SocketAddr, ca: &Path, cert: &ClientCert) -> Self {
        let mut config = (*raw_client_config(cert, ca)).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self {
            addr,
            config: Arc::new(config),
        }
    }

    /// Opens a keep-alive connection.
    pub(crate) async fn connect(&self) -> Conn {
        let stream = tls_connect(self.config.clone(), self.addr)
            .await
            .expect("TLS connection to auth");
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .expect("HTTP/1.1 handshake");
        tokio::spawn(connection);
        Conn {
            sender,
            host: self.addr.to_string(),
        }
    }

    /// Sends one request on a fresh connection.
    pub(crate) async fn send(&self, request: Request<Full<Bytes>>) -> Reply {
        self.connect().await.send(request).await
    }

    /// GETs `path`.
    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.connect().await.get(path).await
    }

    /// POSTs a form body with `headers`.
    pub(crate) async fn post_form(
        &self,
        path: &str,
        body: &str,
        headers: &[(&str, String)],
    ) -> Reply {
        self.connect().await.post_form(path, body, headers).await
    }
}

/// A keep-alive HTTP/1.1 connection.
pub(crate) struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    /// Sends `request`, adding `Host`.
    pub(crate) async fn send(&mut self, mut request: Request<Full<Bytes>>) -> Reply {
        request
            .headers_mut()
            .insert("host", self.host.parse().expect("host header"));
        self.sender.ready().await.expect("connection ready");
        let response = self
            .sender
            .send_request(request)
            .await
            .expect("send request");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("read body").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// GETs `path`.
    pub(crate) async fn get(&mut self, path: &str) -> Reply {
        let request = Request::get(path)
            .body(Full::default())
            .expect("valid request");
        self.send(request).await
    }

    /// POSTs `body` as a form, with `headers`.
    pub(crate) async fn post_form(
        &mut self,
        path: &str,
        body: &str,
        headers: &[(&str, String)],
    ) -> Reply {
        let mut request = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("valid request");
        for (name, value) in headers {
            request.headers_mut().append(
                hyper::header::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                value.parse().expect("header value"),
            );
        }
        self.send(request).await
    }
}
