//! The one error type of the payments workload, and the one place it
//! becomes a gRPC status. Refusals and bad input are told to the caller;
//! failures of `accounts` or the database are logged with their cause and
//! answered without internal detail.

use std::path::PathBuf;

use tonic::Status;

/// Everything that can go wrong in the payments workload.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed request: the message says which field.
    #[error("{0}")]
    Invalid(String),
    /// No such payment, or one the caller may not see (never told apart).
    #[error("payment not found")]
    NotFound,
    /// An account to charge that is missing or not the caller's (never
    /// told apart), asked with `validate_only`.
    #[error("{0}")]
    NotChargeable(&'static str),
    /// A valid caller asking for something its role does not allow.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The idempotency key came with another request before.
    #[error("{0} was already used for a different request")]
    KeyReused(&'static str),
    /// Another request with the same key (or on the same payment) is running.
    #[error("{0} is still in progress; retry later")]
    InProgress(&'static str),
    /// The payment's state, or the account, refuses the refund.
    #[error("{0}")]
    Refused(String),
    /// `accounts` did not give a definite answer; the work stays pending
    /// and the next request with the same key finishes it.
    #[error("accounts {call} failed: {status}")]
    Accounts {
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
    /// A failed call to `accounts`.
    pub(crate) fn accounts(call: &'static str, status: Status) -> Self {
        Self::Accounts {
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
            Error::NotFound | Error::NotChargeable(_) => Status::not_found(message),
            Error::Forbidden(_) => Status::permission_denied(message),
            Error::KeyReused(_) => Status::already_exists(message),
            Error::InProgress(_) => Status::aborted(message),
            Error::Refused(_) => Status::failed_precondition(message),
            Error::Accounts { call, status } => {
                tracing::warn!(call, code = ?status.code(), message = status.message(), "accounts did not settle a payment");
                Status::unavailable(
                    "the payment could not be settled now; retry with the same idempotency key",
                )
            }
            Error::Upstream(_) | Error::Open { .. } | Error::Store(_) | Error::Corrupt(_) => {
                tracing::error!(error = %mesh::telemetry::error_chain(&error), "request failed");
                Status::internal("internal error")
            }
        }
    }
}
