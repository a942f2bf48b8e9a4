//! Secrets in memory: client secrets, passwords and refresh tokens.
//!
//! A [`Secret`] never prints: `Debug` is redacted and there is no `Display`,
//! so a secret cannot reach a log line or an error message by accident.
//! Reading it takes an explicit [`Secret::expose`].

use std::fmt;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use subtle::ConstantTimeEq;

/// A secret string that never prints.
#[derive(Clone)]
pub struct Secret(Box<str>);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// A fresh secret of 32 random bytes (256 bits), base64url encoded.
    pub fn generate() -> Self {
        Self::new(random_token())
    }

    /// The secret itself. Call sites are where secrets leave the wrapper.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with `other` in time that depends only on the lengths.
    pub fn ct_eq(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// 32 bytes from the system CSPRNG, base64url without padding (43 chars).
pub(crate) fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// `N` bytes from the system CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The system RNG fails only if the OS cannot supply entropy, and then
    // nothing this server does is safe: stop rather than go on.
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random number generator failed");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Secret::new("hunter2");
        let printed = format!("{secret:?} {:?}", Some(&secret));
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn generated_secrets_are_long_and_distinct() {
        let (a, b) = (Secret::generate(), Secret::generate());
        assert_eq!(a.expose().len(), 43);
        assert!(!a.ct_eq(b.expose()));
        assert!(a.ct_eq(a.expose()));
    }
}
