//! A token issuer for tests: real keys (ES256, RS256, EdDSA), a real JWKS,
//! and full control over headers and claims, so tests can mint both good
//! tokens and every kind of forged one.

use std::sync::Mutex;

use aws_lc_rs::{
    rand::SystemRandom,
    rsa::KeySize,
    signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::jwt::{Clock, SystemClock};

/// The issuer URL test tokens carry (the validator's default).
pub const TEST_ISSUER: &str = "https://127.0.0.1:8443";

enum Signer {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

struct TestKey {
    kid: String,
    alg: &'static str,
    signer: Signer,
    jwk: Value,
}

/// Signing keys and the JWKS that publishes them.
pub struct TestIssuer {
    keys: Mutex<Vec<TestKey>>,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer").finish_non_exhaustive()
    }
}

impl Default for TestIssuer {
    fn default() -> Self {
        Self::new()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The claims of a compact JWT, unverified: for tests that need a
/// token's `jti` or `exp`, never for deciding anything.
pub fn unverified_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("compact token");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json")
}

impl TestIssuer {
    /// An issuer with keys `es-1` (ES256), `rs-1` (RS256) and `ed-1` (EdDSA).
    pub fn new() -> Self {
        let issuer = Self {
            keys: Mutex::new(Vec::new()),
        };
        issuer.add_key("es-1", "ES256");
        issuer.add_key("rs-1", "RS256");
        issuer.add_key("ed-1", "EdDSA");
        issuer
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<TestKey>> {
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Generates and publishes a key `kid` for `alg` (`ES256`, `RS256` or `EdDSA`).
    pub fn add_key(&self, kid: &str, alg: &'static str) {
        let rng = SystemRandom::new();
        let (signer, params) = match alg {
            "ES256" => {
                let pkcs8 =
                    EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                        .expect("generate P-256");
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    pkcs8.as_ref(),
                )
                .expect("load P-256");
                let point = pair.public_key().as_ref().to_vec();
                let params = json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])});
                (Signer::Ec(pair), params)
            }
            "RS256" => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("generate RSA");
                let public = pair.public_key();
                let params = json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                });
                (Signer::Rsa(pair), params)
            }
            "EdDSA" => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("generate Ed25519");
                let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("load Ed25519");
                let params =
                    json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())});
                (Signer::Ed(pair), params)
            }
            other => panic!("unsupported test algorithm {other}"),
        };
        let mut jwk = params;
        jwk["kid"] = json!(kid);
        jwk["alg"] = json!(alg);
        jwk["use"] = json!("sig");
        self.lock().push(TestKey {
            kid: kid.to_owned(),
            alg,
            signer,
            jwk,
        });
    }

    /// Withdraws key `kid` from the JWKS (and from signing).
    pub fn remove_key(&self, kid: &str) {
        self.lock().retain(|k| k.kid != kid);
    }

    /// The JWKS document.
    pub fn jwks(&self) -> String {
        let keys: Vec<Value> = self.lock().iter().map(|k| k.jwk.clone()).collect();
        json!({ "keys": keys }).to_string()
    }

    /// The public JWK of `kid`, as published.
    pub fn jwk(&self, kid: &str) -> Value {
        self.lock()
            .iter()
            .find(|k| k.kid == kid)
            .expect("known kid")
            .jwk
            .clone()
    }

    /// Valid claims for `sub` at `aud`, issued now, expiring in 5 minutes.
    pub fn claims(&self, sub: &str, aud: &[&str]) -> Value {
        let now = SystemClock.now().as_secs();
        let jti = b64(&rand_bytes());
        json!({
            "iss": TEST_ISSUER,
            "sub": sub,
            "aud": aud,
            "client_id": "test-client",
            "scope": "accounts:read accounts:write orders:read orders:write payments:read",
            "roles": ["USER"],
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": jti,
        })
    }

    /// A token signed by `kid` with a standard header (`typ: at+jwt`).
    pub fn token(&self, kid: &str, claims: &Value) -> String {
        let alg = self
            .lock()
            .iter()
            .find(|k| k.kid == kid)
            .expect("known kid")
            .alg;
        self.token_with_header(
            kid,
            &json!({"alg": alg, "typ": "at+jwt", "kid": kid}),
            claims,
        )
    }

    /// A token with any header at all, signed by `kid`'s key.
    pub fn token_with_header(&self, kid: &str, header: &Value, claims: &Value) -> String {
        self.token_from_raw(
            kid,
            header.to_string().as_bytes(),
            claims.to_string().as_bytes(),
        )
    }

    /// A token from raw header and payload bytes, signed by `kid`'s key.
    pub fn token_from_raw(&self, kid: &str, header: &[u8], payload: &[u8]) -> String {
        let message = format!("{}.{}", b64(header), b64(payload));
        let keys = self.lock();
        let key = keys.iter().find(|k| k.kid == kid).expect("known kid");
        let rng = SystemRandom::new();
        let signature = match &key.signer {
            Signer::Ec(pair) => pair
                .sign(&rng, message.as_bytes())
                .expect("sign")
                .as_ref()
                .to_vec(),
            Signer::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    message.as_bytes(),
                    &mut sig,
                )
                .expect("sign");
                sig
            }
            Signer::Ed(pair) => pair.sign(message.as_bytes()).as_ref().to_vec(),
        };
        format!("{message}.{}", b64(&signature))
    }

    /// An HS256 token whose HMAC key is `secret` (the algorithm-confusion attack).
    pub fn hmac_token(secret: &[u8], header: &Value, claims: &Value) -> String {
        let message = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        let tag = aws_lc_rs::hmac::sign(&key, message.as_bytes());
        format!("{message}.{}", b64(tag.as_ref()))
    }
}

fn rand_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
    bytes
}
