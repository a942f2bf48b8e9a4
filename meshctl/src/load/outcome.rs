//! How a request ended and whether that is what the run wanted: a gRPC
//! or HTTP status (or a client-side timeout, a connection failure, or
//! never sent at all), and a class (served, refused as the abuse scenario
//! expects, or an error).

use tonic::Code;

/// What a request was meant to test. Plain scenarios send only
/// [`Kind::Request`]; the abuse scenario mixes the other three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// An ordinary, valid call.
    Request,
    /// A token signed by a key auth never published.
    Forged,
    /// A token whose `exp` is in the past (also forged, see `abuse`).
    Expired,
    /// A valid token sent faster than its subject's rate limit.
    OverQuota,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Forged => "forged-token",
            Self::Expired => "expired-token",
            Self::OverQuota => "over-quota",
        }
    }
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// A gRPC status (`OK` included).
    Grpc(Code),
    /// An HTTP status.
    Http(u16),
    /// An order came back, but not paid (declined, or still pending).
    NotPaid,
    /// No answer within `--timeout`.
    Timeout,
    /// The connection failed before an answer (REST; gRPC reports these
    /// as `UNAVAILABLE` or `UNKNOWN`).
    Connection,
    /// Open loop: due, but no worker was free before the run gave up on
    /// it, so it never left. Still an error with a latency (see `engine`).
    NotSent,
}

impl Status {
    /// The name reports use: gRPC code names, `HTTP 429`, ...
    pub(crate) fn label(self) -> String {
        match self {
            Self::Grpc(code) => code_name(code).to_owned(),
            Self::Http(status) => format!("HTTP {status}"),
            Self::NotPaid => "ORDER_NOT_PAID".to_owned(),
            Self::Timeout => "CLIENT_TIMEOUT".to_owned(),
            Self::Connection => "CONNECTION_ERROR".to_owned(),
            Self::NotSent => "NOT_SENT".to_owned(),
        }
    }

    /// Whether the request left at all.
    pub(crate) fn sent(self) -> bool {
        self != Self::NotSent
    }

    /// Whether it was sent and ended (answered or failed) within `--timeout`:
    /// the one definition of "completed" for the totals and the time series.
    pub(crate) fn completed(self) -> bool {
        !matches!(self, Self::Timeout | Self::NotSent)
    }

    /// Reports list gRPC codes in numeric order, then HTTP statuses, then the rest.
    pub(crate) fn order(self) -> (u8, i32) {
        match self {
            Self::Grpc(code) => (0, code as i32),
            Self::Http(status) => (1, i32::from(status)),
            Self::NotPaid => (2, 0),
            Self::Timeout => (3, 0),
            Self::Connection => (4, 0),
            Self::NotSent => (5, 0),
        }
    }
}

/// The canonical upper-case name of a gRPC status code.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Whether an outcome is what the run wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Served.
    Ok,
    /// Refused, as the mesh should (abuse scenario).
    Expected,
    /// Anything else, including an abusive request that got through.
    Error,
}

impl Class {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Expected => "expected",
            Self::Error => "error",
        }
    }
}

/// What was sent and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) kind: Kind,
    pub(crate) status: Status,
}

impl Outcome {
    pub(crate) fn new(kind: Kind, status: Status) -> Self {
        Self { kind, status }
    }

    /// Ok, expected refusal, or error.
    pub(crate) fn class(self) -> Class {
        let served = matches!(
            self.status,
            Status::Grpc(Code::Ok) | Status::Http(200..=299)
        );
        let refused = matches!(
            self.status,
            Status::Grpc(Code::Unauthenticated | Code::ResourceExhausted) | Status::Http(401 | 429)
        );
        let throttled = matches!(
            self.status,
            Status::Grpc(Code::ResourceExhausted) | Status::Http(429)
        );
        match self.kind {
            Kind::Request if served => Class::Ok,
            // A forged or expired token must never be served; a refusal for
            // its signature or by the per-IP limit both protect the mesh.
            Kind::Forged | Kind::Expired if refused => Class::Expected,
            Kind::OverQuota if served => Class::Ok,
            Kind::OverQuota if throttled => Class::Expected,
            _ => Class::Error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_expected_only_for_abusive_requests() {
        let o = |kind, status| Outcome::new(kind, status).class();
        let unauth = Status::Grpc(Code::Unauthenticated);
        assert_eq!(o(Kind::Request, unauth), Class::Error);
        assert_eq!(o(Kind::Forged, unauth), Class::Expected);
        assert_eq!(o(Kind::Expired, Status::Http(429)), Class::Expected);
        assert_eq!(o(Kind::Forged, Status::Grpc(Code::Ok)), Class::Error);
        assert_eq!(o(Kind::OverQuota, Status::Grpc(Code::Ok)), Class::Ok);
        assert_eq!(o(Kind::OverQuota, Status::Http(429)), Class::Expected);
        assert_eq!(o(Kind::OverQuota, unauth), Class::Error);
        assert_eq!(o(Kind::Request, Status::Http(204)), Class::Ok);
        assert_eq!(o(Kind::Request, Status::NotPaid), Class::Error);
        assert_eq!(o(Kind::Request, Status::NotSent), Class::Error);
        assert!(!Status::NotSent.sent() && Status::Timeout.sent());
        assert!(!Status::NotSent.completed() && !Status::Timeout.completed());
        assert!(Status::Connection.completed());
        assert_eq!(
            Status::Grpc(Code::ResourceExhausted).label(),
            "RESOURCE_EXHAUSTED"
        );
    }
}
