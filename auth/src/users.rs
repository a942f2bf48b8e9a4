//! User authentication for the password grant (development only).
//!
//! Same rules as for clients: argon2id hashes, an unknown user costs the
//! same and answers the same as a wrong password, and repeated failures
//! are slowed down per user and address ([`Throttle`]). Unlike client
//! secrets, passwords are never cached: they are the low-entropy secrets
//! argon2 exists for.

use std::{net::IpAddr, sync::Arc};

use crate::{
    directory::{Directory, User},
    error::Error,
    password::Hasher,
    secret::Secret,
    throttle::{Throttle, ThrottlePolicy},
};

/// Longest username or password accepted before any work is done.
const MAX_LEN: usize = 512;

/// Checks usernames and passwords.
#[derive(Debug)]
pub(crate) struct UserAuthenticator {
    directory: Arc<Directory>,
    hasher: Hasher,
    throttle: Throttle,
}

impl UserAuthenticator {
    pub(crate) fn new(directory: Arc<Directory>, hasher: Hasher, policy: ThrottlePolicy) -> Self {
        Self {
            directory,
            hasher,
            throttle: Throttle::new(policy),
        }
    }

    /// The user these credentials prove, or `invalid_grant` (RFC 6749 §5.2),
    /// for a request from `address`.
    pub(crate) async fn authenticate(
        &self,
        username: &str,
        password: &Secret,
        address: Option<IpAddr>,
        now: i64,
    ) -> Result<Arc<User>, Error> {
        let rejected = |reason| Error::InvalidGrant {
            reason,
            description: "invalid username or password".into(),
        };
        if username.len() > MAX_LEN || password.expose().len() > MAX_LEN {
            return Err(rejected("oversized_user_credentials"));
        }
        let key = format!("user:{username}");
        if let Err(refused) = self.throttle.check(&key, address, now) {
            return Err(Error::LoginThrottled {
                reason: if refused.global {
                    "user_backoff_global"
                } else {
                    "user_backoff"
                },
                retry_after: refused.wait,
            });
        }
        let Some(user) = self.directory.user(username) else {
            if let Some(decoy) = self.directory.any_user_hash() {
                self.hasher.verify(decoy, password).await;
            }
            self.throttle.failure(&key, address, now);
            return Err(rejected("unknown_user"));
        };
        if self.hasher.verify(&user.password, password).await {
            self.throttle.success(&key, address);
            Ok(user.clone())
        } else {
            self.throttle.failure(&key, address, now);
            Err(rejected("bad_user_password"))
        }
    }
}
