//! The verified-token cache: a bounded map from the SHA-256 of a token to
//! its verified claims, so repeated calls with the same token skip the
//! asymmetric signature check. An entry is never used at or past the
//! token's `exp`, and never once the key that signed it left the JWKS.

use std::sync::Arc;

use aws_lc_rs::digest;
use quick_cache::sync::Cache;

use super::Claims;

/// A cache key: the SHA-256 of the whole token. Collisions are not a
/// practical concern, so two tokens are never confused.
pub(crate) type TokenHash = [u8; 32];

/// Hashes `token` into a cache key.
pub(crate) fn hash(token: &str) -> TokenHash {
    let digest = digest::digest(&digest::SHA256, token.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

/// One verified token.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) claims: Arc<Claims>,
    /// The key that signed it, checked on every hit.
    pub(crate) kid: Arc<str>,
}

/// A bounded cache of verified tokens.
#[derive(Debug)]
pub struct TokenCache {
    /// `None` when caching is off (benchmarks of the uncached path).
    entries: Option<Cache<TokenHash, Entry>>,
}

impl TokenCache {
    /// A cache holding at most `capacity` tokens; 0 turns caching off.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: (capacity > 0).then(|| Cache::new(capacity)),
        }
    }

    /// The entry for `key` if it is still valid at `now_secs`.
    pub(crate) fn get(&self, key: &TokenHash, now_secs: u64) -> Option<Entry> {
        let entries = self.entries.as_ref()?;
        let entry = entries.get(key)?;
        if entry.claims.exp <= now_secs {
            entries.remove(key);
            return None;
        }
        Some(entry)
    }

    pub(crate) fn insert(&self, key: TokenHash, entry: Entry) {
        if let Some(entries) = &self.entries {
            entries.insert(key, entry);
        }
    }

    pub(crate) fn remove(&self, key: &TokenHash) {
        if let Some(entries) = &self.entries {
            entries.remove(key);
        }
    }

    /// Tokens currently cached.
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, Cache::len)
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
