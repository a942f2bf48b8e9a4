//! The one error type of the orders workload, and the one place it becomes
//! a gRPC status. Refusals and bad input are told to the caller; failures
//! of `payments` or the database are logged with their cause and answered
//! without internal detail.

use std::path::PathBuf;

use tonic::Status;

/// Everything that can go wrong in the orders workload.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed request: the message says which field.
    #[error("{0}")]
    Invalid(String),
    /// No such order, or one the caller may not see (never told apart).
    #[error("order not found")]
    NotFound,
    /// The account to pay from is missing or not the caller's (never told
    /// apart, so nobody learns whether someone else's account exists).
    #[error("account not found: an order is paid from one of its owner's own accounts")]
    AccountNotFound,
    /// The idempotency key came with another request before.
    #[error("{0} was already used for a different request")]
    KeyReused(&'static str),
    /// Another request is working on the same order or key.
    #[error("{0} is still in progress; retry later")]
    InProgress(&'static str),
    /// The order's state refuses the request.
    #[error("{0}")]
    Refused(String),
    /// `payments` did not give a definite answer; the order stays as it
    /// was written and is finished in the background or by a retry.
    #[error("payments {call} failed: {status}")]
    Payments {
        call: &'static str,
        status: Box<Status>,
    },
    /// A configured upstream address is unusable (at start-up).
    #[error(transparent)]
    Upstream(#[from] mesh::client::UpstreamError),
    /// The data directory or database cannot be used (at start-up).
    #[error("--data-dir: cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A database failure while serving.
    #[error("database error")]
    Store(#[from] sqlx::Error),
    /// The database holds something this code cannot read.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl Error {
    /// A failed call to `payments`.
    pub(crate) fn payments(call: &'static str, status: Status) -> Self {
        Self::Payments {
            call,
            status: Box::new(status),
        }
    }
}

/// A refused field: the kit's message, told to the caller as it is.
impl From<mesh::input::InvalidInput> for Error {
    fn from(error: mesh::input::InvalidInput) -> Self {
        Self::Invalid(error.0)
    }
}

/// A refused `page_size` or `page_token`.
impl From<mesh::paging::PageError> for Error {
    fn from(error: mesh::paging::PageError) -> Self {
        Self::Invalid(error.to_string())
    }
}

/// The database could not be opened at start-up.
impl From<mesh::store::OpenError> for Error {
    fn from(error: mesh::store::OpenError) -> Self {
        Self::Open {
            path: error.path,
            source: error.source,
        }
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        match error {
            Error::Invalid(_) => Status::invalid_argument(message),
            Error::NotFound | Error::AccountNotFound => Status::not_found(message),
            Error::KeyReused(_) => Status::already_exists(message),
            Error::InProgress(_) => Status::aborted(message),
            Error::Refused(_) => Status::failed_precondition(message),
            Error::Payments { call, status } => {
                tracing::warn!(call, code = ?status.code(), message = status.message(), "payments did not settle an order");
                Status::unavailable(
                    "payments did not answer; the order will be settled in the background, retry to see the outcome",
                )
            }
            Error::Upstream(_) | Error::Open { .. } | Error::Store(_) | Error::Corrupt(_) => {
                tracing::error!(error = %mesh::telemetry::error_chain(&error), "request failed");
                Status::internal("internal error")
            }
        }
    }
}
