//! What the demo makes up itself: a trace context to start the order's
//! trace with, and a forged token (well formed, plausible claims, signed by
//! a key the issuer never published) that the mesh must refuse.

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair},
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// A fresh W3C trace context: the trace id and the `traceparent` header
/// (sampled) that starts a trace with it.
pub(super) fn traceparent() -> (String, String) {
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let span_id = &uuid::Uuid::new_v4().simple().to_string()[..16];
    let header = format!("00-{trace_id}-{span_id}-01");
    (trace_id, header)
}

/// An ES256 token for alice, addressed to the gateway, signed by a key
/// generated here.
pub(super) fn token() -> anyhow::Result<String> {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("cannot generate a P-256 key"))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "iss": "https://127.0.0.1:7443",
        "sub": "alice",
        "aud": "gateway",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid::Uuid::new_v4().to_string(),
        "scope": "accounts:read accounts:write orders:read orders:write",
        "roles": ["ADMIN"],
    });
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("forged".into());
    let key = EncodingKey::from_ec_der(pkcs8.as_ref());
    Ok(jsonwebtoken::encode(&header, &claims, &key)?)
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

    #[test]
    fn traceparent_is_w3c_shaped() {
        let (trace_id, header) = super::traceparent();
        let parts: Vec<&str> = header.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(
            (parts[0], parts[1], parts[3]),
            ("00", trace_id.as_str(), "01")
        );
        assert_eq!((parts[1].len(), parts[2].len()), (32, 16));
    }

    #[test]
    fn the_forged_token_is_a_well_formed_jwt() {
        let token = super::token().expect("forge");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "forged");
    }
}
