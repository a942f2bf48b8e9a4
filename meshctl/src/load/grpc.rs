//! A unary gRPC call straight on hyper's HTTP/2 client, built to cost the
//! client little: the URI, the headers and the length-prefixed message are
//! prepared once, so a call clones them and adds the current token, and
//! the reply is read only for its status, its message decoded only where
//! the scenario checks it (an order must come back paid). Statuses are
//! the ones tonic's client would report: `grpc-status` from the trailers,
//! or from the headers of a trailers-only reply, else inferred from the
//! HTTP status; failed connections are `UNAVAILABLE`.

use std::sync::Arc;

use anyhow::Context as _;
use bytes::{Buf as _, BytesMut};
use http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, header,
};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use mesh_proto::orders::v1::{Order, OrderStatus};
use prost::Message as _;
use tonic::Code;

use super::{
    connect::{Connections, Dialer},
    outcome::Status,
    target::GrpcBody,
    tokens::Tokens,
};

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// The length prefix in front of every gRPC message: a compressed flag and
/// the message's length.
pub(crate) const PREFIX: usize = 5;

/// A unary gRPC call over a few connections.
#[derive(Debug)]
pub(crate) struct GrpcCall {
    conns: Connections,
    /// `http://HOST:PORT/package.Service/Method`, as tonic sends it.
    uri: Uri,
    /// Every header but the token.
    headers: HeaderMap,
    body: GrpcBody,
    /// None: send no token at all.
    tokens: Option<Tokens>,
}

impl GrpcCall {
    /// Opens `count` connections through `dialer` for calls to `path`.
    pub(crate) async fn connect(
        dialer: Arc<Dialer>,
        count: usize,
        path: &'static str,
        body: GrpcBody,
        tokens: Option<Tokens>,
    ) -> anyhow::Result<Self> {
        let uri = Uri::builder()
            .scheme("http")
            .authority(dialer.addr())
            .path_and_query(path)
            .build()
            .with_context(|| format!("{}: not a host:port", dialer.addr()))?;
        let mut headers = HeaderMap::with_capacity(4);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        Ok(Self {
            conns: Connections::open(dialer, count).await?,
            uri,
            headers,
            body,
            tokens,
        })
    }

    /// Calls once on worker `worker`'s connection, with `bearer` instead
    /// of the current token if given.
    pub(crate) async fn call(
        &self,
        worker: usize,
        seq: u64,
        bearer: Option<&HeaderValue>,
    ) -> Status {
        let Some(mut sender) = self.conns.sender(worker).await else {
            return Status::Grpc(Code::Unavailable);
        };
        let (body, order) = match &self.body {
            GrpcBody::Fixed(bytes) => (bytes.clone(), false),
            GrpcBody::Order(template) => (template.grpc(seq), true),
        };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        let token = match (bearer, &self.tokens) {
            (Some(bearer), _) => Some(bearer.clone()),
            (None, Some(tokens)) => Some(tokens.current().header.clone()),
            (None, None) => None,
        };
        if let Some(token) = token {
            request.headers_mut().insert(header::AUTHORIZATION, token);
        }
        if sender.ready().await.is_err() {
            return Status::Grpc(Code::Unavailable);
        }
        match sender.send_request(request).await {
            Ok(response) => finish(response, order).await,
            Err(e) => failed(e),
        }
    }
}

/// A call that failed below gRPC, coded as tonic codes it.
fn failed(e: hyper::Error) -> Status {
    Status::Grpc(tonic::Status::from_error(Box::new(e)).code())
}

/// Reads `response` to its end for its status; an order that succeeded
/// is `NotPaid` unless it came back paid.
async fn finish(response: Response<Incoming>, order: bool) -> Status {
    let (parts, mut body) = response.into_parts();
    // Trailers-only: the status is in the headers, and there is no message
    // (which for a unary call that succeeded is an error, as tonic has it).
    if let Some(code) = grpc_status(&parts.headers) {
        return Status::Grpc(if code == Code::Ok {
            Code::Internal
        } else {
            code
        });
    }
    let mut received = 0;
    // Kept only for an order, whose reply is checked.
    let mut message = BytesMut::new();
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => return failed(e),
        };
        match frame.into_data() {
            Ok(data) => {
                received += data.len();
                if order {
                    message.extend_from_slice(&data);
                }
            }
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    let code = trailers
        .as_ref()
        .and_then(grpc_status)
        .unwrap_or_else(|| inferred(parts.status));
    if code != Code::Ok {
        return Status::Grpc(code);
    }
    if received < PREFIX {
        return Status::Grpc(Code::Internal);
    }
    if order {
        message.advance(PREFIX);
        if !Order::decode(message).is_ok_and(|o| o.status == OrderStatus::Paid as i32) {
            return Status::NotPaid;
        }
    }
    Status::Grpc(Code::Ok)
}

/// The code in `grpc-status`, if there is one (unreadable: `UNKNOWN`).
fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    headers
        .get(&GRPC_STATUS)
        .map(|value| Code::from_bytes(value.as_bytes()))
}

/// The code for a reply that ended without `grpc-status`, as tonic infers it.
fn inferred(status: StatusCode) -> Code {
    match status {
        StatusCode::BAD_REQUEST => Code::Internal,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::Unimplemented,
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => Code::Unavailable,
        _ => Code::Unknown,
    }
}
