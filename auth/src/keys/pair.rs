//! One signing key pair: generated with aws-lc-rs, stored as PKCS#8, and
//! signing JWS input directly so the hot path never re-parses a key.

use aws_lc_rs::{
    encoding::AsDer,
    rand::SystemRandom,
    rsa::KeySize,
    signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
        RSA_PKCS1_SHA256, RsaKeyPair,
    },
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::{KeyError, SigningAlg, jwk::PublicJwk};

/// A private key able to sign tokens.
pub(crate) enum KeyPair {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair({}, <private>)", self.alg().as_str())
    }
}

impl KeyPair {
    /// A fresh key for `alg`, and its PKCS#8 encoding for the key file.
    pub(crate) fn generate(alg: SigningAlg) -> Result<(Self, Vec<u8>), KeyError> {
        let failed = |_| KeyError::Crypto("key generation failed");
        let pkcs8 = match alg {
            SigningAlg::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            SigningAlg::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .and_then(|k| k.as_der())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            SigningAlg::EdDsa => Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
        };
        Ok((Self::from_pkcs8(alg, &pkcs8)?, pkcs8))
    }

    /// Reads a PKCS#8 key written by [`KeyPair::generate`].
    pub(crate) fn from_pkcs8(alg: SigningAlg, der: &[u8]) -> Result<Self, KeyError> {
        let rejected = |_| KeyError::Crypto("unusable PKCS#8 key");
        Ok(match alg {
            SigningAlg::Es256 => Self::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(rejected)?,
            ),
            SigningAlg::Rs256 => Self::Rs256(RsaKeyPair::from_pkcs8(der).map_err(rejected)?),
            SigningAlg::EdDsa => Self::EdDsa(Ed25519KeyPair::from_pkcs8(der).map_err(rejected)?),
        })
    }

    /// The algorithm this key signs with.
    pub(crate) fn alg(&self) -> SigningAlg {
        match self {
            Self::Es256(_) => SigningAlg::Es256,
            Self::Rs256(_) => SigningAlg::Rs256,
            Self::EdDsa(_) => SigningAlg::EdDsa,
        }
    }

    /// The JWS signature of `message` (RFC 7518 encoding: `r || s` for ECDSA).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match self {
            Self::Es256(key) => key
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto("ECDSA signing failed")),
            Self::Rs256(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| KeyError::Crypto("RSA signing failed"))?;
                Ok(signature)
            }
            Self::EdDsa(key) => Ok(key.sign(message).as_ref().to_vec()),
        }
    }

    /// The public half as a JWK (no `kid` yet): only public members exist
    /// in the type, so nothing private can ever be published.
    pub(crate) fn public_jwk(&self) -> PublicJwk {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        match self {
            Self::Es256(key) => {
                // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
                let point = key.public_key().as_ref();
                PublicJwk::ec_p256(b64(&point[1..33]), b64(&point[33..65]))
            }
            Self::Rs256(key) => {
                let public = key.public_key();
                PublicJwk::rsa(
                    b64(public.modulus().big_endian_without_leading_zero()),
                    b64(public.exponent().big_endian_without_leading_zero()),
                )
            }
            Self::EdDsa(key) => PublicJwk::ed25519(b64(key.public_key().as_ref())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_round_trips_through_pkcs8() {
        for alg in [SigningAlg::Es256, SigningAlg::Rs256, SigningAlg::EdDsa] {
            let (key, pkcs8) = KeyPair::generate(alg).expect("generate");
            let reloaded = KeyPair::from_pkcs8(alg, &pkcs8).expect("reload");
            assert_eq!(key.public_jwk(), reloaded.public_jwk(), "{alg:?}");
            assert!(!key.sign(b"message").expect("sign").is_empty());
            assert!(KeyPair::from_pkcs8(alg, b"not a key").is_err());
        }
    }
}
