//! The one error contract of the gateway: every failure becomes an RFC 9457
//! `application/problem+json` body (REST) or a gRPC status (gRPC clients),
//! from one type, in one place. Server-side failures never carry their
//! internal detail to the client; it is logged instead.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use tonic::Code;

/// A failure, as the client will see it.
#[derive(Debug)]
pub(crate) struct GatewayError {
    pub(crate) status: StatusCode,
    pub(crate) code: Code,
    /// Safe for the client to read.
    pub(crate) detail: String,
    /// `WWW-Authenticate` for 401s (RFC 6750).
    pub(crate) challenge: Option<&'static str>,
    /// Seconds, for 429 and 503.
    pub(crate) retry_after: Option<u64>,
}

impl GatewayError {
    fn new(status: StatusCode, code: Code, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            challenge: None,
            retry_after: None,
        }
    }

    /// The request itself is malformed.
    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Code::InvalidArgument, detail)
    }

    /// No route for this path.
    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, Code::Unimplemented, detail)
    }

    /// The path exists with other methods.
    pub(crate) fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, Code::Unimplemented, detail)
    }

    /// The body is larger than allowed.
    pub(crate) fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::ResourceExhausted,
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// The client sent the wrong media type.
    pub(crate) fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::InvalidArgument,
            detail,
        )
    }

    /// Missing or bad credentials; `invalid_token` when a token was sent.
    pub(crate) fn unauthenticated(detail: impl Into<String>, token_sent: bool) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, Code::Unauthenticated, detail);
        e.challenge = Some(if token_sent {
            r#"Bearer realm="mesh", error="invalid_token""#
        } else {
            r#"Bearer realm="mesh""#
        });
        e
    }

    /// Over a rate limit; try again after `seconds`.
    pub(crate) fn rate_limited(seconds: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            Code::ResourceExhausted,
            "rate limit exceeded",
        );
        e.retry_after = Some(seconds.max(1));
        e
    }

    /// Our own bug or misconfiguration; `detail` is logged, not sent.
    pub(crate) fn internal(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::error!(%detail, "gateway failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Code::Internal,
            "the gateway failed to handle the request",
        )
    }

    /// An upstream's answer, mapped to HTTP.
    pub(crate) fn from_status(status: &tonic::Status) -> Self {
        let (http, safe) = match status.code() {
            Code::InvalidArgument | Code::OutOfRange => (StatusCode::BAD_REQUEST, true),
            Code::Unauthenticated => return Self::unauthenticated(status.message(), true),
            Code::PermissionDenied => (StatusCode::FORBIDDEN, true),
            Code::NotFound => (StatusCode::NOT_FOUND, true),
            Code::AlreadyExists | Code::Aborted => (StatusCode::CONFLICT, true),
            Code::FailedPrecondition => (StatusCode::UNPROCESSABLE_ENTITY, true),
            Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, true),
            Code::Cancelled => (
                StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
                true,
            ),
            Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, false),
            Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, false),
            Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, false),
            Code::Ok | Code::Unknown | Code::Internal | Code::DataLoss => {
                (StatusCode::INTERNAL_SERVER_ERROR, false)
            }
        };
        let detail = if safe {
            status.message().to_owned()
        } else {
            tracing::warn!(code = ?status.code(), message = status.message(), "upstream failure");
            http.canonical_reason()
                .unwrap_or("upstream failure")
                .to_owned()
        };
        let mut e = Self::new(http, status.code(), detail);
        if status.code() == Code::Unavailable {
            e.retry_after = Some(1);
        }
        e
    }

    /// The same failure as a gRPC status, for gRPC clients.
    pub(crate) fn into_status(self) -> tonic::Status {
        tonic::Status::new(self.code, self.detail)
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(challenge) = self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
