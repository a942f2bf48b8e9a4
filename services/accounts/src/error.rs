//! The one error type of the accounts workload, and the one place it
//! becomes a gRPC status. Refusals and bad input are told to the caller;
//! database trouble is logged with its cause and answered `INTERNAL`.

use std::{fmt, path::PathBuf, str::FromStr};

use tonic::Status;

/// Why money could not move. Debit and credit refusals are recorded, so a
/// retry with the same payment or refund id gets the same answer even if
/// the account changed in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such account.
    NotFound,
    /// The account is frozen: no deposits, debits or credits.
    Frozen,
    /// The request's currency is not the account's.
    CurrencyMismatch,
    /// A debit larger than the balance.
    InsufficientFunds,
    /// The balance would not fit in 64 bits.
    Overflow,
}

impl Refusal {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Frozen => "frozen",
            Self::CurrencyMismatch => "currency_mismatch",
            Self::InsufficientFunds => "insufficient_funds",
            Self::Overflow => "overflow",
        }
    }
}

impl FromStr for Refusal {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "not_found" => Self::NotFound,
            "frozen" => Self::Frozen,
            "currency_mismatch" => Self::CurrencyMismatch,
            "insufficient_funds" => Self::InsufficientFunds,
            "overflow" => Self::Overflow,
            other => return Err(format!("unknown refusal '{other}' in the database")),
        })
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotFound => "account not found",
            Self::Frozen => "the account is frozen",
            Self::CurrencyMismatch => "the currency is not the account's currency",
            Self::InsufficientFunds => "insufficient funds",
            Self::Overflow => "the balance would overflow",
        })
    }
}

/// Everything that can go wrong in the accounts workload.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed request: the message says which field.
    #[error("{0}")]
    Invalid(String),
    /// No such account, or one the caller may not see (never told apart).
    #[error("account not found")]
    NotFound,
    /// A valid caller asking for something its role does not allow.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The account's state refuses the request.
    #[error("{0}")]
    Refused(Refusal),
    /// The idempotency key (or payment or refund id) came with another request before.
    #[error("{0} was already used for a different request")]
    KeyReused(&'static str),
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

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotFound => Self::NotFound,
            other => Self::Refused(other),
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
            Error::NotFound => Status::not_found(message),
            Error::Forbidden(_) => Status::permission_denied(message),
            Error::Refused(_) => Status::failed_precondition(message),
            Error::KeyReused(_) => Status::already_exists(message),
            Error::Open { .. } | Error::Store(_) | Error::Corrupt(_) => {
                tracing::error!(error = %mesh::telemetry::error_chain(&error), "request failed");
                Status::internal("internal error")
            }
        }
    }
}
