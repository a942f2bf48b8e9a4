//! Why a token was refused, with a stable reason label for metrics.

use tonic::Status;

/// Why a request's credentials were refused. Messages never contain the
/// token or any part of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("more than one authorization header")]
    MultipleAuthorization,
    #[error("the authorization header is not a Bearer token")]
    NotBearer,
    #[error("the token is larger than 8 KiB")]
    TooLarge,
    #[error("the token is not a compact JWS (header.payload.signature, base64url)")]
    Malformed,
    #[error("the token's algorithm is not allowed")]
    AlgorithmNotAllowed,
    #[error("the token is not an access token (typ must be at+jwt)")]
    WrongType,
    #[error("the token has critical header parameters this service does not understand")]
    UnsupportedCrit,
    #[error("the token's key id is missing or invalid")]
    BadKeyId,
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    #[error("the token's algorithm does not match its key")]
    KeyAlgorithmMismatch,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token's claims are missing or of the wrong type")]
    MalformedClaims,
    #[error("the token was issued by an untrusted issuer")]
    WrongIssuer,
    #[error("the token is not meant for this service")]
    WrongAudience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued in the future")]
    IssuedInFuture,
    #[error("signing keys are unavailable or too old to trust")]
    KeysUnavailable,
    #[error("the token was revoked")]
    Revoked,
    #[error("the revocation list is unavailable or too old to trust")]
    RevocationsUnavailable,
}

impl AuthError {
    /// Every refusal, so each reason is exported at 0 from the start
    /// (keep in step with the enum: `reason()` lists the same variants).
    pub const ALL: [Self; 21] = [
        Self::Missing,
        Self::MultipleAuthorization,
        Self::NotBearer,
        Self::TooLarge,
        Self::Malformed,
        Self::AlgorithmNotAllowed,
        Self::WrongType,
        Self::UnsupportedCrit,
        Self::BadKeyId,
        Self::UnknownKey,
        Self::KeyAlgorithmMismatch,
        Self::BadSignature,
        Self::MalformedClaims,
        Self::WrongIssuer,
        Self::WrongAudience,
        Self::Expired,
        Self::NotYetValid,
        Self::IssuedInFuture,
        Self::KeysUnavailable,
        Self::Revoked,
        Self::RevocationsUnavailable,
    ];

    /// A short, stable label for `mesh_auth_failures_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing_token",
            Self::MultipleAuthorization => "multiple_authorization",
            Self::NotBearer => "not_bearer",
            Self::TooLarge => "token_too_large",
            Self::Malformed => "malformed",
            Self::AlgorithmNotAllowed => "alg_not_allowed",
            Self::WrongType => "wrong_typ",
            Self::UnsupportedCrit => "unsupported_crit",
            Self::BadKeyId => "bad_kid",
            Self::UnknownKey => "unknown_kid",
            Self::KeyAlgorithmMismatch => "alg_key_mismatch",
            Self::BadSignature => "bad_signature",
            Self::MalformedClaims => "malformed_claims",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "iat_in_future",
            Self::KeysUnavailable => "jwks_stale",
            Self::Revoked => "revoked",
            Self::RevocationsUnavailable => "revocations_stale",
        }
    }
}

impl From<AuthError> for Status {
    fn from(error: AuthError) -> Self {
        match error {
            // Fail closed, but say it is our fault, not the caller's.
            AuthError::KeysUnavailable | AuthError::RevocationsUnavailable => {
                Status::unavailable(error.to_string())
            }
            _ => Status::unauthenticated(format!("invalid credentials: {error}")),
        }
    }
}
