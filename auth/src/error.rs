//! The one error type of the server's OAuth 2.0 surface.
//!
//! Every handler returns [`Error`]; it becomes an RFC 6749 §5.2 JSON error
//! response in exactly one place ([`IntoResponse`]) and a gRPC status in
//! exactly one other (`From<Error> for tonic::Status`). Failures are
//! counted and logged once, by [`Error::record`], with a short reason and
//! never with the token or secret involved. Internal errors are logged
//! with their cause and answered with a generic `server_error`.

use std::borrow::Cow;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// Something the caller did wrong, or (rarely) something that broke here.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed request: missing, repeated or unparsable parameters.
    #[error("invalid_request: {0}")]
    InvalidRequest(Cow<'static, str>),
    /// The body is over the size limit.
    #[error("invalid_request: request body too large")]
    BodyTooLarge,
    /// Client authentication failed. `reason` is for metrics and logs only.
    #[error("invalid_client ({reason})")]
    InvalidClient {
        reason: &'static str,
        /// Seconds before the client may try again (backoff).
        retry_after: Option<i64>,
    },
    /// A grant (password, refresh token, subject token) is invalid.
    #[error("invalid_grant ({reason}): {description}")]
    InvalidGrant {
        reason: &'static str,
        description: Cow<'static, str>,
    },
    /// A login refused before the password was checked: too many recent
    /// failures for this user (from this address, or from everywhere).
    /// Unknown and known users are refused alike.
    #[error("invalid_grant ({reason}): throttled")]
    LoginThrottled {
        reason: &'static str,
        /// Seconds before the next attempt may succeed.
        retry_after: i64,
    },
    /// The client may not use this grant, or act on this token.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(Cow<'static, str>),
    /// The grant type is unknown or disabled.
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    /// More scope than allowed, or an unknown scope.
    #[error("invalid_scope: {0}")]
    InvalidScope(Cow<'static, str>),
    /// An audience the caller may not ask for (RFC 8707, RFC 8693).
    #[error("invalid_target: {0}")]
    InvalidTarget(Cow<'static, str>),
    /// A bearer token on an admin call is missing or invalid (RFC 6750).
    #[error("invalid_token ({reason})")]
    InvalidToken { reason: &'static str },
    /// A valid bearer token without the right (RFC 6750).
    #[error("insufficient_scope: {0}")]
    InsufficientScope(Cow<'static, str>),
    /// Not now: too many requests of this kind from this client (RFC 7009
    /// §2.2.1: the token still exists; retry after the delay).
    #[error("temporarily_unavailable: {description}")]
    TryLater {
        description: Cow<'static, str>,
        retry_after: i64,
    },
    /// A fault of this server; details are logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The RFC 6749 error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) | Self::BodyTooLarge => "invalid_request",
            Self::InvalidClient { .. } => "invalid_client",
            Self::InvalidGrant { .. } | Self::LoginThrottled { .. } => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidTarget(_) => "invalid_target",
            Self::InvalidToken { .. } => "invalid_token",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::TryLater { .. } => "temporarily_unavailable",
            Self::Internal(_) => "server_error",
        }
    }

    /// What the caller is told. Client authentication failures all read
    /// the same, so the answer does not reveal which client ids exist.
    fn description(&self) -> Cow<'static, str> {
        match self {
            Self::InvalidRequest(d)
            | Self::UnauthorizedClient(d)
            | Self::InvalidScope(d)
            | Self::InvalidTarget(d)
            | Self::InsufficientScope(d)
            | Self::InvalidGrant { description: d, .. } => d.clone(),
            Self::BodyTooLarge => "request body too large".into(),
            Self::LoginThrottled { .. } => "too many failed attempts; retry later".into(),
            Self::InvalidClient {
                retry_after: Some(_),
                ..
            } => "client authentication failed; too many failures, retry later".into(),
            Self::InvalidClient { .. } => "client authentication failed".into(),
            Self::UnsupportedGrantType => "unsupported grant_type".into(),
            Self::InvalidToken { .. } => "the access token is missing, invalid or expired".into(),
            Self::TryLater { description, .. } => description.clone(),
            Self::Internal(_) => "internal error".into(),
        }
    }

    /// Counts and logs this failure once, for the endpoint or RPC `method`.
    pub(crate) fn record(&self, metrics: &mesh::Metrics, method: &str) {
        match self {
            Self::InvalidClient { reason, .. }
            | Self::InvalidGrant { reason, .. }
            | Self::LoginThrottled { reason, .. }
            | Self::InvalidToken { reason } => {
                metrics.auth_failure(reason);
                tracing::warn!(method, error = self.code(), reason, "authentication failed");
            }
            Self::UnauthorizedClient(_)
            | Self::InvalidScope(_)
            | Self::InvalidTarget(_)
            | Self::InsufficientScope(_) => {
                metrics.authz_denied(method, self.code());
                tracing::warn!(
                    method,
                    error = self.code(),
                    "request denied: {}",
                    self.description()
                );
            }
            Self::TryLater { .. } => {
                // Counted where the limit refused it (`mesh_ratelimit_rejected_total`).
                tracing::warn!(method, "refused for now: {}", self.description());
            }
            Self::Internal(detail) => {
                tracing::error!(method, detail, "internal error");
            }
            Self::InvalidRequest(_) | Self::BodyTooLarge | Self::UnsupportedGrantType => {
                tracing::debug!(
                    method,
                    error = self.code(),
                    "bad request: {}",
                    self.description()
                );
            }
        }
    }

    /// An internal fault with its context, e.g. `Error::internal("store", e)`.
    pub(crate) fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        Self::Internal(format!("{context}: {cause}"))
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Self::internal("database", e)
    }
}

impl From<crate::keys::KeyError> for Error {
    fn from(e: crate::keys::KeyError) -> Self {
        Self::internal("signing keys", e)
    }
}

/// The JSON body of an error response.
#[derive(serde::Serialize)]
struct ErrorBody {
    error: &'static str,
    error_description: Cow<'static, str>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::InvalidClient { .. } | Self::InvalidToken { .. } => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TryLater { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = ErrorBody {
            error: self.code(),
            error_description: self.description(),
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        crate::http::no_store(headers);
        match &self {
            Self::InvalidClient { retry_after, .. } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="auth", charset="UTF-8""#),
                );
                if let Some(seconds) = retry_after {
                    headers.insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
                }
            }
            Self::LoginThrottled { retry_after, .. } | Self::TryLater { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            Self::InvalidToken { .. } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="auth", error="invalid_token""#),
                );
            }
            Self::InsufficientScope(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="auth", error="insufficient_scope""#),
                );
            }
            _ => {}
        }
        response
    }
}

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        let message = format!("{}: {}", error.code(), error.description());
        match error {
            Error::InvalidClient { .. }
            | Error::InvalidGrant { .. }
            | Error::InvalidToken { .. } => Self::unauthenticated(message),
            Error::LoginThrottled { .. } => Self::resource_exhausted(message),
            Error::UnauthorizedClient(_)
            | Error::InvalidScope(_)
            | Error::InvalidTarget(_)
            | Error::InsufficientScope(_) => Self::permission_denied(message),
            Error::InvalidRequest(_) | Error::BodyTooLarge | Error::UnsupportedGrantType => {
                Self::invalid_argument(message)
            }
            Error::TryLater { .. } => Self::resource_exhausted(message),
            Error::Internal(_) => Self::internal("internal error"),
        }
    }
}
