//! Native gRPC through the gateway: external clients call the public RPCs
//! (those with an HTTP rule) on the public port; the request is streamed
//! to the owning workload over mutual TLS with the validated token and the
//! caller's deadline, and the answer (trailers included) streamed back.
//! Internal RPCs are not reachable: they have no route.

use std::net::IpAddr;

use axum::{body::Body, response::Response};
use http::{HeaderName, Request, header};
use tower::{Service, ServiceExt};

use crate::{Gateway, edge, problem::GatewayError};

/// Request headers passed on to the upstream; everything else is dropped
/// (the token is attached again by the mesh channel, from the validated caller).
fn forwarded(name: &HeaderName) -> bool {
    let name = name.as_str();
    matches!(
        name,
        "content-type" | "te" | "grpc-timeout" | "grpc-accept-encoding" | "user-agent"
    ) || !(name.starts_with("grpc-")
        || name.starts_with(':')
        || matches!(
            name,
            "authorization"
                | "cookie"
                | "host"
                | "connection"
                | "content-length"
                | "transfer-encoding"
        ))
}

/// Whether a request is gRPC (rather than REST).
pub(crate) fn is_grpc<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

/// Proxies one gRPC request; failures become gRPC statuses.
pub(crate) async fn handle(gw: &Gateway, request: Request<Body>, ip: Option<IpAddr>) -> Response {
    match proxy(gw, request, ip).await {
        Ok(response) => response,
        Err(error) => error.into_status().into_http::<Body>(),
    }
}

async fn proxy(
    gw: &Gateway,
    request: Request<Body>,
    ip: Option<IpAddr>,
) -> Result<Response, GatewayError> {
    let (parts, body) = request.into_parts();
    let route = gw.routes.by_grpc_path(parts.uri.path()).ok_or_else(|| {
        GatewayError::not_found(format!("{} is not a public RPC", parts.uri.path()))
    })?;
    mesh::https::record_rpc(&route.grpc_path);
    let caller = edge::admit(gw, &parts.headers, parts.uri.query(), ip).await?;
    let upstream = gw.upstreams.get(&route.workload).ok_or_else(|| {
        GatewayError::internal(format!("no upstream configured for {}", route.workload))
    })?;

    let limited = http_body_util::Limited::new(body, gw.max_body_bytes);
    let mut forward = Request::builder()
        .method(http::Method::POST)
        .uri(route.grpc_path.as_str())
        .body(tonic::body::Body::new(limited))
        .map_err(|e| GatewayError::internal(e.to_string()))?;
    for (name, value) in parts.headers.iter().filter(|(name, _)| forwarded(name)) {
        forward.headers_mut().append(name.clone(), value.clone());
    }
    forward.extensions_mut().insert(caller);

    let mut channel = upstream.channel();
    let ready = channel
        .ready()
        .await
        .map_err(|e| GatewayError::from_status(&tonic::Status::unavailable(e.to_string())))?;
    let response = ready
        .call(forward)
        .await
        .map_err(|e| GatewayError::from_status(&tonic::Status::unavailable(e.to_string())))?;
    Ok(response.map(Body::new))
}
