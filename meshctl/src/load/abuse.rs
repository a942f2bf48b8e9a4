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

use http::HeaderValue;

use crate::forge::Forger;

use super::{
    grpc::GrpcCall,
    outcome::{Kind, Outcome},
    tokens::Bearer,
};

/// Distinct tokens of each bad kind, sent in turn.
const POOL: usize = 64;

/// GetAccount through the gateway with bad and over-quota tokens.
#[derive(Debug)]
pub(crate) struct Abuse {
    /// Sends the real token unless told otherwise.
    grpc: GrpcCall,
    forged: Vec<HeaderValue>,
    expired: Vec<HeaderValue>,
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
            forged.push(Bearer::new(&key.forge(real, &format!("forged-{i}"), None)?)?.header);
            expired
                .push(Bearer::new(&key.forge(real, &format!("expired-{i}"), Some(now))?)?.header);
        }
        Ok(Self {
            grpc,
            forged,
            expired,
        })
    }

    pub(crate) async fn call(&self, worker: usize, seq: u64) -> Outcome {
        let pick = |pool: &[HeaderValue]| {
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
