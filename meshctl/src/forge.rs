//! Tokens an attacker would send: a real token's header and claims,
//! re-signed with an ES256 key generated here that auth never published
//! (the header keeps the real `kid`, so a validator looks up the real key
//! and the signature check fails), optionally with lifetimes in the past.
//! `meshctl demo` shows one being refused; `meshctl load --scenario abuse`
//! sends many.

use anyhow::Context as _;
use aws_lc_rs::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// An ES256 key nobody trusts.
pub(crate) struct Forger {
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl Forger {
    pub(crate) fn generate() -> anyhow::Result<Self> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("generate a P-256 key"))?;
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .map_err(|_| anyhow::anyhow!("load the generated P-256 key"))?;
        Ok(Self { key, rng })
    }

    /// `real`'s header and claims with a new `jti` (and, with
    /// `expired_at = Some(now)`, lifetimes in the past), signed by this key.
    pub(crate) fn forge(
        &self,
        real: &str,
        jti: &str,
        expired_at: Option<u64>,
    ) -> anyhow::Result<String> {
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
