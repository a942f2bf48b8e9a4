//! Public JSON Web Keys (RFC 7517) and their thumbprints (RFC 7638).
//!
//! [`PublicJwk`] has fields for public members only (`x`, `y`, `n`, `e`),
//! never `d`, `p`, `q` or the like: the JWKS cannot leak a private key,
//! because no value of this type can hold one.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::SigningAlg;

/// The public half of a signing key, as published in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicJwk {
    /// Key type: `EC`, `RSA` or `OKP`.
    pub kty: String,
    /// Key id: the RFC 7638 thumbprint, set once the key is complete.
    #[serde(default)]
    pub kid: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// The one algorithm this key is used with.
    pub alg: String,
    /// Curve: `P-256` or `Ed25519`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate or Ed25519 public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

impl PublicJwk {
    fn new(kty: &str, alg: SigningAlg) -> Self {
        Self {
            kty: kty.to_owned(),
            kid: String::new(),
            use_: "sig".to_owned(),
            alg: alg.as_str().to_owned(),
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
        }
    }

    pub(crate) fn ec_p256(x: String, y: String) -> Self {
        Self {
            crv: Some("P-256".to_owned()),
            x: Some(x),
            y: Some(y),
            ..Self::new("EC", SigningAlg::Es256)
        }
    }

    pub(crate) fn rsa(n: String, e: String) -> Self {
        Self {
            n: Some(n),
            e: Some(e),
            ..Self::new("RSA", SigningAlg::Rs256)
        }
    }

    pub(crate) fn ed25519(x: String) -> Self {
        Self {
            crv: Some("Ed25519".to_owned()),
            x: Some(x),
            ..Self::new("OKP", SigningAlg::EdDsa)
        }
    }

    /// The RFC 7638 SHA-256 thumbprint, base64url: the required members in
    /// lexicographic order, no whitespace. All values are base64url or
    /// fixed names, so none needs JSON escaping.
    pub(crate) fn thumbprint(&self) -> String {
        let get = |v: &Option<String>| v.clone().unwrap_or_default();
        let canonical = match self.kty.as_str() {
            "EC" => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                get(&self.crv),
                get(&self.x),
                get(&self.y)
            ),
            "RSA" => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                get(&self.e),
                get(&self.n)
            ),
            _ => format!(
                r#"{{"crv":"{}","kty":"{}","x":"{}"}}"#,
                get(&self.crv),
                self.kty,
                get(&self.x)
            ),
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// The key for checking signatures made with this key.
    pub(crate) fn decoding_key(&self) -> Result<DecodingKey, jsonwebtoken::errors::Error> {
        let missing =
            || jsonwebtoken::errors::Error::from(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat);
        match self.kty.as_str() {
            "EC" => DecodingKey::from_ec_components(
                self.x.as_deref().ok_or_else(missing)?,
                self.y.as_deref().ok_or_else(missing)?,
            ),
            "RSA" => DecodingKey::from_rsa_components(
                self.n.as_deref().ok_or_else(missing)?,
                self.e.as_deref().ok_or_else(missing)?,
            ),
            _ => DecodingKey::from_ed_components(self.x.as_deref().ok_or_else(missing)?),
        }
    }
}

/// A JWK Set document.
#[derive(Debug, Clone, Serialize)]
pub struct Jwks {
    /// Newest key first.
    pub keys: Vec<PublicJwk>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // The RSA example key of RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let jwk = PublicJwk::rsa(n.to_owned(), "AQAB".to_owned());
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn serializes_public_members_only() {
        let jwk = PublicJwk::ec_p256("xx".to_owned(), "yy".to_owned());
        let json = serde_json::to_value(&jwk).expect("json");
        let mut names: Vec<&str> = json
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["alg", "crv", "kid", "kty", "use", "x", "y"]);
        let private = r#"{"kty":"EC","use":"sig","alg":"ES256","d":"secret"}"#;
        assert!(serde_json::from_str::<PublicJwk>(private).is_err());
    }
}
