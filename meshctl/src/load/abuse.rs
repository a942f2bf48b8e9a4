//! The abuse scenario: what an attacker sends to the gateway, mixed in
//! equal parts, one kind after the other.
//!
//! - *Forged*: a real token's header and claims, re-signed with an ES256
//!   key generated at start that auth never published. The header keeps
//!   the real `kid`, so the gateway looks up the real key and the
//!   signature check fails.
//! - *Expired*: the same, with `iat`/`nbf` two hours and `exp` one hour in
//!   the past. Auth will not sign an expired token and nothing here holds
//!   its key, so this token too is signed by the generated key: a
//!   validator following RFC 8725 checks the signature first and refuses
//!   it for that, before ever reading `exp`. It tests that the path holds,
//!   not the expiry check itself (the mesh's own tests cover that with
//!   tokens from a test issuer).
//! - *Over quota*: the real loadgen token, hammered: at `--rate` R a third
//!   of the calls (R/3 per second) carry it, so past the gateway's
//!   per-subject limit (`GATEWAY_RATE_SUBJECT`, 50/s by default, twice
//!   that in a burst) they are refused.
//!
//! A refusal (`UNAUTHENTICATED`, or `RESOURCE_EXHAUSTED` once the per-IP
//! limit for unauthenticated calls kicks in) is the expected outcome, and a
//! forged or expired token that is served is an error.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use aws_lc_rs::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use tonic::metadata::{Ascii, MetadataValue};

use super::{
    outcome::{Kind, Outcome},
    target::GrpcCall,
    tokens::Bearer,
};

/// Distinct tokens of each bad kind, sent in turn.
const POOL: usize = 64;

/// GetAccount through the gateway with bad and over-quota tokens.
#[derive(Debug)]
pub(crate) struct Abuse {
    /// Sends the real token unless told otherwise.
    grpc: GrpcCall,
    forged: Vec<MetadataValue<Ascii>>,
    expired: Vec<MetadataValue<Ascii>>,
}

impl Abuse {
    /// Forges look-alikes of `real` and sends them with `grpc`.
    pub(crate) fn new(grpc: GrpcCall, real: &str) -> anyhow::Result<Self> {
        let key = Forger::generate()?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut forged = Vec::with_capacity(POOL);
        let mut expired = Vec::with_capacity(POOL);
        for i in 0..POOL {
            forged.push(Bearer::new(&key.forge(real, &format!("forged-{i}"), None)?)?.grpc);
            expired.push(Bearer::new(&key.forge(real, &format!("expired-{i}"), Some(now))?)?.grpc);
        }
        Ok(Self {
            grpc,
            forged,
            expired,
        })
    }

    pub(crate) async fn call(&self, worker: usize, seq: u64) -> Outcome {
        let pick = |pool: &[MetadataValue<Ascii>]| {
            let i = usize::try_from(seq / 3).unwrap_or(0) % pool.len();
            pool[i].clone()
        };
        let (kind, bearer) = match seq % 3 {
            0 => (Kind::Forged, Some(pick(&self.forged))),
            1 => (Kind::Expired, Some(pick(&self.expired))),
            _ => (Kind::OverQuota, None),
        };
        Outcome::new(kind, self.grpc.call(worker, seq, bearer.as_ref()).await)
    }
}

/// An ES256 key nobody trusts.
struct Forger {
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl Forger {
    fn generate() -> anyhow::Result<Self> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("generate a P-256 key"))?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .map_err(|_| anyhow::anyhow!("load the generated P-256 key"))?;
        Ok(Self { key, rng })
    }

    /// `real`'s header and claims with a new `jti` (and, with
    /// `expired_at = Some(now)`, lifetimes in the past), signed by this key.
    fn forge(&self, real: &str, jti: &str, expired_at: Option<u64>) -> anyhow::Result<String> {
        let mut parts = real.split('.');
        let (Some(header), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            anyhow::bail!("auth's token is not a compact JWT");
        };
        let mut claims: Value = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .context("auth's token has no readable claims")?;
        claims["jti"] = json!(jti);
        if let Some(now) = expired_at {
            claims["iat"] = json!(now.saturating_sub(7200));
            claims["nbf"] = json!(now.saturating_sub(7200));
            claims["exp"] = json!(now.saturating_sub(3600));
        }
        let message = format!(
            "{header}.{}",
            URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes())
        );
        let signature = self
            .key
            .sign(&self.rng, message.as_bytes())
            .map_err(|_| anyhow::anyhow!("sign a forged token"))?;
        Ok(format!(
            "{message}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string().as_bytes())
    }

    fn claims(token: &str) -> Value {
        let payload = token.split('.').nth(1).expect("payload");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("JSON")
    }

    #[test]
    fn forgeries_keep_the_real_header_and_change_only_what_they_must() {
        let header = segment(&json!({"alg": "ES256", "typ": "at+jwt", "kid": "auth-1"}));
        let real_claims =
            json!({"sub": "loadgen", "aud": "gateway", "exp": 2_000_000_000u64, "jti": "real"});
        let real = format!("{header}.{}.c2ln", segment(&real_claims));
        let forger = Forger::generate().expect("key");

        let forged = forger.forge(&real, "f-1", None).expect("forged");
        assert!(forged.starts_with(&format!("{header}.")));
        assert_ne!(forged.rsplit('.').next(), real.rsplit('.').next());
        let c = claims(&forged);
        assert_eq!(
            (c["sub"].as_str(), c["jti"].as_str()),
            (Some("loadgen"), Some("f-1"))
        );
        assert_eq!(c["exp"], real_claims["exp"]);

        let expired = forger
            .forge(&real, "e-1", Some(1_700_000_000))
            .expect("expired");
        assert_eq!(claims(&expired)["exp"], json!(1_700_000_000u64 - 3600));

        assert!(forger.forge("not-a-jwt", "x", None).is_err());
    }
}
