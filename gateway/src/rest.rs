//! REST/JSON requests: route by the HTTP annotations, transcode to the
//! request message, call the owning workload over mutual TLS with the
//! caller's token, and transcode the answer back.

use std::{net::IpAddr, str::FromStr};

use axum::{
    body::Body,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode, header, uri::PathAndQuery};

use crate::{
    Gateway,
    codec::RawCodec,
    edge,
    problem::GatewayError,
    routes::{BodyRule, Lookup},
    transcode,
};

/// Handles one REST request.
pub(crate) async fn handle(
    gw: &Gateway,
    request: Request<Body>,
    ip: Option<IpAddr>,
) -> Result<Response, GatewayError> {
    let (parts, body) = request.into_parts();
    let (route, bound) = match gw.routes.lookup(&parts.method, parts.uri.path()) {
        Lookup::Found(route, bound) => {
            mesh::https::record_route(&parts.method, route.template.as_str());
            (route, bound)
        }
        Lookup::MethodNotAllowed(allowed) => {
            let allowed: Vec<&str> = allowed.iter().map(http::Method::as_str).collect();
            return Err(GatewayError::method_not_allowed(format!(
                "use {}",
                allowed.join(" or ")
            )));
        }
        Lookup::NotFound => {
            return Err(GatewayError::not_found(format!(
                "no operation at {}",
                parts.uri.path()
            )));
        }
    };
    let caller = edge::admit(gw, &parts.headers, parts.uri.query(), ip).await?;
    let body = axum::body::to_bytes(body, gw.max_body_bytes)
        .await
        .map_err(|_| GatewayError::too_large(gw.max_body_bytes))?;
    if route.body != BodyRule::None && !body.is_empty() {
        let json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json {
            return Err(GatewayError::unsupported_media_type(
                "send the body as application/json",
            ));
        }
    }
    let message = transcode::request(route, &bound, parts.uri.query(), &body)?;

    let upstream = gw.upstreams.get(&route.workload).ok_or_else(|| {
        GatewayError::internal(format!("no upstream configured for {}", route.workload))
    })?;
    let mut grpc = tonic::client::Grpc::new(upstream.channel());
    grpc.ready()
        .await
        .map_err(|e| GatewayError::from_status(&tonic::Status::unavailable(e.to_string())))?;
    let mut call = caller.request(Bytes::from(message));
    call.set_timeout(gw.request_timeout);
    let path = PathAndQuery::from_str(&route.grpc_path)
        .map_err(|e| GatewayError::internal(e.to_string()))?;
    let reply = grpc
        .unary(call, path, RawCodec)
        .await
        .map_err(|status| GatewayError::from_status(&status))?;
    let json = transcode::response(route.output(), &reply.into_inner())?;
    let mut response = (StatusCode::OK, json).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
