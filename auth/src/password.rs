//! Argon2id hashes of client secrets and user passwords, and the pool that
//! checks them without stalling the async runtime.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`),
//! so the parameters travel with each hash and a config file may carry
//! hashes made elsewhere. Checking one costs tens of milliseconds of CPU
//! and about 19 MiB by default; [`Hasher`] runs checks on the blocking pool
//! and bounds how many run at once, so a flood of logins cannot take every
//! core or exhaust memory.

use std::{fmt, str::FromStr, sync::Arc};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;

use crate::secret::{Secret, random_bytes};

/// An Argon2id hash in PHC string format.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(Arc<str>);

/// Cost parameters for new hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
}

impl Default for HashParams {
    /// OWASP's recommendation for Argon2id: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
        }
    }
}

/// OWASP's minimum Argon2id settings (Password Storage Cheat Sheet), as
/// (memory in KiB, passes), one lane: equal in cost, any one of them will do.
const OWASP_MINIMUMS: [(u32, u32); 5] = [
    (47_104, 1),
    (19_456, 2),
    (12_288, 3),
    (9_216, 4),
    (7_168, 5),
];

impl HashParams {
    /// Whether these settings meet one of OWASP's minimums.
    pub fn meets_owasp_minimum(self) -> bool {
        OWASP_MINIMUMS
            .iter()
            .any(|&(m, t)| self.memory_kib >= m && self.iterations >= t)
    }
}

impl PasswordHash {
    /// The cost parameters this hash was made with.
    pub fn params(&self) -> HashParams {
        // Only well-formed argon2id PHC strings are ever held.
        let params = argon2::PasswordHash::new(&self.0)
            .ok()
            .and_then(|parsed| Params::try_from(&parsed).ok());
        params.map_or(
            HashParams {
                memory_kib: 0,
                iterations: 0,
            },
            |p| HashParams {
                memory_kib: p.m_cost(),
                iterations: p.t_cost(),
            },
        )
    }

    /// Hashes `secret` with a fresh 16-byte salt.
    pub fn create(secret: &Secret, params: HashParams) -> Result<Self, HashError> {
        let params = Params::new(params.memory_kib, params.iterations, 1, None)
            .map_err(|e| HashError(e.to_string()))?;
        let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_with_salt(secret.expose().as_bytes(), &random_bytes::<16>())
            .map_err(|e| HashError(e.to_string()))?;
        Ok(Self(hash.to_string().into()))
    }

    /// Whether `candidate` hashes to this. The comparison of the outputs is
    /// constant time; the work before it does not depend on the candidate.
    pub fn verify(&self, candidate: &str) -> bool {
        Argon2::default()
            .verify_password(candidate.as_bytes(), &*self.0)
            .is_ok()
    }

    /// The PHC string, for writing into a config file.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PasswordHash {
    type Err = HashError;

    /// Accepts only well-formed Argon2id PHC strings.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = argon2::PasswordHash::new(s).map_err(|e| HashError(e.to_string()))?;
        if parsed.algorithm.as_str() != "argon2id" {
            return Err(HashError(format!(
                "expected an argon2id hash, found {}",
                parsed.algorithm
            )));
        }
        Params::try_from(&parsed).map_err(|e| HashError(e.to_string()))?;
        Ok(Self(s.into()))
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The salt and output are not secret, but offline guessing starts
        // from them: keep them out of logs too.
        f.write_str("PasswordHash(argon2id, <redacted>)")
    }
}

/// Why a hash could not be made or read.
#[derive(Debug, thiserror::Error)]
#[error("argon2: {0}")]
pub struct HashError(String);

/// Checks hashes on the blocking pool, a bounded number at a time.
#[derive(Debug, Clone)]
pub(crate) struct Hasher {
    permits: Arc<Semaphore>,
}

impl Hasher {
    /// At most `concurrency` checks run at once; the rest wait their turn.
    pub(crate) fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// Whether `candidate` matches `hash`.
    pub(crate) async fn verify(&self, hash: &PasswordHash, candidate: &Secret) -> bool {
        // The semaphore is never closed, so acquiring only waits.
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let (hash, candidate) = (hash.clone(), candidate.clone());
        tokio::task::spawn_blocking(move || hash.verify(candidate.expose()))
            .await
            .unwrap_or(false)
    }

    /// Hashes `secret` with `params` on the blocking pool.
    pub(crate) async fn hash(
        &self,
        secret: &Secret,
        params: HashParams,
    ) -> Result<PasswordHash, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        let secret = secret.clone();
        tokio::task::spawn_blocking(move || PasswordHash::create(&secret, params))
            .await
            .map_err(|e| HashError(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
    };

    #[test]
    fn verifies_only_the_right_secret() {
        let hash = PasswordHash::create(&Secret::new("correct horse"), CHEAP).expect("hash");
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(hash.verify("correct horse"));
        assert!(!hash.verify("correct horse "));
        assert!(!hash.verify(""));
    }

    #[test]
    fn owasp_minimums_are_checked() {
        assert!(HashParams::default().meets_owasp_minimum());
        assert!(!CHEAP.meets_owasp_minimum());
        let params = |memory_kib, iterations| HashParams {
            memory_kib,
            iterations,
        };
        assert!(params(47_104, 1).meets_owasp_minimum());
        assert!(!params(47_103, 1).meets_owasp_minimum());
        assert!(params(7_168, 5).meets_owasp_minimum());
        assert!(!params(19_455, 2).meets_owasp_minimum());
        let hash = PasswordHash::create(&Secret::new("x"), CHEAP).expect("hash");
        assert_eq!(hash.params(), CHEAP);
    }

    #[test]
    fn parses_only_argon2id() {
        let hash = PasswordHash::create(&Secret::new("x"), CHEAP).expect("hash");
        assert!(hash.as_str().parse::<PasswordHash>().is_ok());
        let argon2i = hash.as_str().replacen("argon2id", "argon2i", 1);
        assert!(argon2i.parse::<PasswordHash>().is_err());
        assert!("plaintext".parse::<PasswordHash>().is_err());
        assert!(!format!("{hash:?}").contains(hash.as_str()));
    }
}
