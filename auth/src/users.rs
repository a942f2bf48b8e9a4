//! User authentication for the password grant (development only).
//!
//! Same rules as for clients: argon2id hashes, an unknown user costs the
//! same as a wrong password, and repeated failures for a user are slowed
//! down. Unlike client secrets, passwords are never cached: they are the
//! low-entropy secrets argon2 exists for.

use std::sync::Arc;

use crate::{
    backoff::{Backoff, BackoffPolicy},
    directory::{Directory, User},
    error::Error,
    password::Hasher,
    secret::Secret,
};

/// Longest username or password accepted before any work is done.
const MAX_LEN: usize = 512;
/// The backoff key all unknown usernames share.
const UNKNOWN: &str = "user:?";

/// Checks usernames and passwords.
#[derive(Debug)]
pub(crate) struct UserAuthenticator {
    directory: Arc<Directory>,
    hasher: Hasher,
    backoff: Backoff,
}

impl UserAuthenticator {
    pub(crate) fn new(directory: Arc<Directory>, hasher: Hasher, policy: BackoffPolicy) -> Self {
        Self {
            directory,
            hasher,
            backoff: Backoff::new(policy),
        }
    }

    /// The user these credentials prove, or `invalid_grant` (RFC 6749 §5.2).
    pub(crate) async fn authenticate(
        &self,
        username: &str,
        password: &Secret,
        now: i64,
    ) -> Result<Arc<User>, Error> {
        let rejected = |reason| Error::InvalidGrant {
            reason,
            description: "invalid username or password".into(),
        };
        if username.len() > MAX_LEN || password.expose().len() > MAX_LEN {
            return Err(rejected("oversized_user_credentials"));
        }
        let user = self.directory.user(username);
        let key = user.map_or_else(|| UNKNOWN.to_owned(), |u| format!("user:{}", u.username));
        if self.backoff.check(&key, now).is_err() {
            return Err(Error::InvalidGrant {
                reason: "user_backoff",
                description: "too many failed attempts; retry later".into(),
            });
        }
        let Some(user) = user else {
            if let Some(decoy) = self.directory.any_user_hash() {
                self.hasher.verify(decoy, password).await;
            }
            self.backoff.failure(&key, now);
            return Err(rejected("unknown_user"));
        };
        if self.hasher.verify(&user.password, password).await {
            self.backoff.success(&key);
            Ok(user.clone())
        } else {
            self.backoff.failure(&key, now);
            Err(rejected("bad_user_password"))
        }
    }
}
