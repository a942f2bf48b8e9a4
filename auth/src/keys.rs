//! Signing keys: generated on first start, persisted in the data directory,
//! published in the JWKS, rotated on demand or on a schedule.
//!
//! Private keys are PKCS#8 files `<data-dir>/keys/<kid>.pk8` (mode 0600),
//! read only at start-up and only for kids listed in the database, never
//! named by a request. The database holds the public JWK and the lifecycle
//! times (see [`lifecycle`]). The `kid` is the key's RFC 7638 thumbprint.
//!
//! Reads (signing, verifying, the JWKS) take no lock: the key set is an
//! immutable snapshot swapped whole after each change.

mod jwk;
mod keyring;
mod lifecycle;
mod pair;

use std::{path::PathBuf, sync::Arc};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::DecodingKey;

pub use jwk::{Jwks, PublicJwk};
pub(crate) use keyring::Keyring;

use crate::store::KeyRow;
use lifecycle::Window;
use pair::KeyPair;

/// The signature algorithm of new keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SigningAlg {
    /// ECDSA with P-256 and SHA-256 (the default).
    #[value(name = "ES256")]
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    #[value(name = "RS256")]
    Rs256,
    /// Ed25519.
    #[value(name = "EdDSA")]
    EdDsa,
}

impl SigningAlg {
    /// The JOSE name (`alg` header).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::EdDsa => "EdDSA",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Es256, Self::Rs256, Self::EdDsa]
            .into_iter()
            .find(|alg| alg.as_str() == s)
    }

    /// The same algorithm for the verifier.
    pub(crate) fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Es256 => jsonwebtoken::Algorithm::ES256,
            Self::Rs256 => jsonwebtoken::Algorithm::RS256,
            Self::EdDsa => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

/// How keys are rotated. Durations in seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyPolicy {
    /// Algorithm of new keys.
    pub(crate) alg: SigningAlg,
    /// How long a new key is published before it signs.
    pub(crate) publish_ahead: i64,
    /// How long a retired key stays published: longest token lifetime + skew.
    pub(crate) retire_after: i64,
    /// Rotate automatically when the signing key is this old.
    pub(crate) rotation_interval: Option<i64>,
}

/// A key as the server holds it: public half, lifecycle, and (while it may
/// sign) the private key.
#[derive(Debug, Clone)]
pub(crate) struct LiveKey {
    kid: String,
    alg: SigningAlg,
    jwk: PublicJwk,
    created_at: i64,
    window: Window,
    signer: Option<Arc<KeyPair>>,
    /// The encoded JWS header, the same for every token this key signs.
    header_b64: String,
    decoding: DecodingKey,
}

impl LiveKey {
    fn new(
        jwk: PublicJwk,
        alg: SigningAlg,
        created_at: i64,
        window: Window,
        signer: Option<Arc<KeyPair>>,
    ) -> Result<Self, KeyError> {
        let decoding = jwk
            .decoding_key()
            .map_err(|_| KeyError::Corrupt(jwk.kid.clone(), "unusable public key".to_owned()))?;
        let header = serde_json::json!({ "alg": alg.as_str(), "typ": "at+jwt", "kid": jwk.kid });
        Ok(Self {
            kid: jwk.kid.clone(),
            alg,
            jwk,
            created_at,
            window,
            signer,
            header_b64: URL_SAFE_NO_PAD.encode(header.to_string()),
            decoding,
        })
    }

    /// The one algorithm tokens signed by this key may name.
    pub(crate) fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The key that checks this key's signatures.
    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// A compact JWS of `claims` (JSON) signed by this key.
    pub(crate) fn sign_jwt(&self, claims: &[u8]) -> Result<String, KeyError> {
        let signer = self.signer.as_ref().ok_or(KeyError::NoSigningKey)?;
        let mut jws = String::with_capacity(self.header_b64.len() + claims.len() * 4 / 3 + 100);
        jws.push_str(&self.header_b64);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut jws);
        let signature = signer.sign(jws.as_bytes())?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut jws);
        Ok(jws)
    }

    fn row(&self) -> KeyRow {
        KeyRow {
            kid: self.kid.clone(),
            alg: self.alg.as_str().to_owned(),
            public_jwk: serde_json::to_string(&self.jwk).unwrap_or_default(),
            created_at: self.created_at,
            activates_at: self.window.activates_at,
            signs_until: self.window.signs_until,
            published_until: self.window.published_until,
        }
    }
}

/// What a rotation did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RotationOutcome {
    /// The new (or already pending) key.
    pub kid: String,
    /// Its algorithm.
    pub alg: &'static str,
    /// When it starts signing.
    pub activates_at: i64,
    /// True if a rotation was already pending and no key was made.
    pub already_pending: bool,
}

/// Why keys cannot be loaded, made or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("crypto: {0}")]
    Crypto(&'static str),
    #[error("signing key {0} is unusable: {1}")]
    Corrupt(String, String),
    #[error("{0}: {1}")]
    Io(PathBuf, String),
    #[error("signing key {0}")]
    OpenKey(mesh::tls::OpenKeyFile),
    #[error("no key can sign now")]
    NoSigningKey,
    #[error("database: {0}")]
    Store(#[from] sqlx::Error),
}
