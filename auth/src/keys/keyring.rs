//! The set of keys and its changes: loading at start-up, rotation, pruning.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use arc_swap::ArcSwap;
use tokio::sync::{Mutex, watch};

use super::{
    KeyError, KeyPolicy, LiveKey, RotationOutcome, SigningAlg, jwk::Jwks, jwk::PublicJwk,
    lifecycle::Window, pair::KeyPair,
};
use crate::{files, store::Store};

/// The server's signing keys.
#[derive(Debug)]
pub(crate) struct Keyring {
    keys: ArcSwap<Vec<Arc<LiveKey>>>,
    store: Store,
    dir: PathBuf,
    policy: KeyPolicy,
    /// Serialises changes (rotation, pruning); reads never take it.
    write: Mutex<()>,
    /// Bumped after every change, to wake the maintenance task and tests.
    changes: watch::Sender<u64>,
}

impl Keyring {
    /// Loads the keys of `data_dir`, making sure one can sign at `now`:
    /// on first start a new key signs at once (no verifier can have cached
    /// anything yet). If `policy.alg` changed, a key of the new algorithm is
    /// scheduled, published ahead like any rotation.
    pub(crate) async fn open(
        store: Store,
        data_dir: &Path,
        policy: KeyPolicy,
        now: i64,
    ) -> Result<Self, KeyError> {
        let dir = data_dir.join("keys");
        files::create_private_dir(&dir).map_err(|e| KeyError::Io(dir.clone(), e.to_string()))?;
        let mut keys = Vec::new();
        for row in store.load_keys().await? {
            let corrupt = |detail: String| KeyError::Corrupt(row.kid.clone(), detail);
            let alg = SigningAlg::parse(&row.alg)
                .ok_or_else(|| corrupt(format!("unknown algorithm {}", row.alg)))?;
            let jwk: PublicJwk =
                serde_json::from_str(&row.public_jwk).map_err(|e| corrupt(e.to_string()))?;
            if jwk.kid != row.kid || jwk.thumbprint() != row.kid {
                return Err(corrupt(
                    "the stored public key does not match its kid".to_owned(),
                ));
            }
            let mut window = Window {
                activates_at: row.activates_at,
                signs_until: row.signs_until,
                published_until: row.published_until,
            };
            window.cover_lifetime(policy.retire_after);
            let signer = if window.may_sign_after(now) {
                read_private(&dir, &jwk, alg)?
            } else {
                None
            };
            keys.push(LiveKey::new(jwk, alg, row.created_at, window, signer)?);
        }
        ensure_signer(&mut keys, &dir, policy, now)?;
        let ring = Self {
            keys: ArcSwap::from_pointee(Vec::new()),
            store,
            dir,
            policy,
            write: Mutex::new(()),
            changes: watch::Sender::new(0),
        };
        ring.commit(keys).await?;
        if newest(&ring.snapshot()).is_some_and(|k| k.alg != policy.alg) {
            let outcome = ring.rotate(now).await?;
            tracing::info!(
                kid = outcome.kid,
                alg = outcome.alg,
                "--signing-alg changed: new key scheduled"
            );
        }
        ring.prune(now).await?;
        Ok(ring)
    }

    /// The key to sign with at `now`.
    pub(crate) fn signer(&self, now: i64) -> Result<Arc<LiveKey>, KeyError> {
        self.keys
            .load()
            .iter()
            .filter(|k| k.signer.is_some() && k.window.signs_at(now))
            .max_by_key(|k| k.window.activates_at)
            .cloned()
            .ok_or(KeyError::NoSigningKey)
    }

    /// The published key `kid`, for checking a token's signature. The kid
    /// is only compared with the keys held in memory: nothing is read or
    /// looked up because of it.
    pub(crate) fn verifier(&self, kid: &str, now: i64) -> Option<Arc<LiveKey>> {
        self.keys
            .load()
            .iter()
            .find(|k| k.kid == kid && k.window.published_at(now))
            .cloned()
    }

    /// The JWKS at `now`, newest key first.
    pub(crate) fn jwks(&self, now: i64) -> Jwks {
        let snapshot = self.snapshot();
        let mut published: Vec<&Arc<LiveKey>> = snapshot
            .iter()
            .filter(|k| k.window.published_at(now))
            .collect();
        published.sort_by_key(|k| std::cmp::Reverse(k.window.activates_at));
        Jwks {
            keys: published.into_iter().map(|k| k.jwk.clone()).collect(),
        }
    }

    /// Schedules a new key: published now, signing after the publish-ahead
    /// interval, when the current key retires. If a new key is already
    /// scheduled, returns it instead of making another.
    pub(crate) async fn rotate(&self, now: i64) -> Result<RotationOutcome, KeyError> {
        let _write = self.write.lock().await;
        let mut keys: Vec<LiveKey> = self.snapshot().iter().map(|k| (**k).clone()).collect();
        if let Some(pending) = newest(&keys).filter(|k| k.window.activates_at > now) {
            return Ok(outcome(pending, true));
        }
        let activates_at = now.saturating_add(self.policy.publish_ahead);
        for key in &mut keys {
            key.window.retire_at(activates_at, self.policy.retire_after);
        }
        let new = generate(self.policy.alg, now, activates_at, &self.dir)?;
        let result = outcome(&new, false);
        keys.push(new);
        self.commit(keys).await?;
        tracing::info!(
            kid = result.kid,
            activates_at,
            "signing key rotation scheduled"
        );
        Ok(result)
    }

    /// Rotates if the schedule (`--key-rotation-interval`) says so.
    pub(crate) async fn rotate_if_due(
        &self,
        now: i64,
    ) -> Result<Option<RotationOutcome>, KeyError> {
        match self.rotation_due(now) {
            Some(due) if due <= now => self.rotate(now).await.map(Some),
            _ => Ok(None),
        }
    }

    /// Drops keys that are no longer published, and the private half of
    /// keys that will never sign again (files deleted).
    pub(crate) async fn prune(&self, now: i64) -> Result<(), KeyError> {
        let _write = self.write.lock().await;
        let mut gone = Vec::new();
        let mut keep = Vec::new();
        let mut changed = false;
        for key in self.snapshot().iter() {
            if !key.window.published_at(now) {
                remove_private(&self.dir, &key.kid);
                gone.push(key.kid.clone());
                changed = true;
                continue;
            }
            let mut key = (**key).clone();
            if key.signer.is_some() && !key.window.may_sign_after(now) {
                key.signer = None;
                remove_private(&self.dir, &key.kid);
                changed = true;
            }
            keep.push(key);
        }
        if !gone.is_empty() {
            self.store.delete_keys(&gone).await?;
            tracing::info!(kids = ?gone, "retired signing keys unpublished");
        }
        if changed {
            self.swap(keep);
        }
        Ok(())
    }

    /// The next time something is due: a scheduled rotation, or a key
    /// starting, stopping or leaving the JWKS.
    pub(crate) fn next_change(&self, now: i64) -> Option<i64> {
        let windows = self
            .snapshot()
            .iter()
            .filter_map(|k| k.window.next_change(now))
            .min();
        [windows, self.rotation_due(now)]
            .into_iter()
            .flatten()
            .min()
    }

    /// Wakes on every change of the key set.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn rotation_due(&self, now: i64) -> Option<i64> {
        let interval = self.policy.rotation_interval?;
        let snapshot = self.snapshot();
        let newest = newest(&snapshot).filter(|k| k.window.activates_at <= now)?;
        // Created early enough to sign exactly one interval after the current key.
        Some(newest.window.activates_at + interval - self.policy.publish_ahead)
    }

    fn snapshot(&self) -> Arc<Vec<Arc<LiveKey>>> {
        self.keys.load_full()
    }

    async fn commit(&self, keys: Vec<LiveKey>) -> Result<(), KeyError> {
        let rows: Vec<_> = keys.iter().map(LiveKey::row).collect();
        self.store.save_keys(&rows).await?;
        self.swap(keys);
        Ok(())
    }

    fn swap(&self, keys: Vec<LiveKey>) {
        self.keys
            .store(Arc::new(keys.into_iter().map(Arc::new).collect()));
        self.changes.send_modify(|generation| *generation += 1);
    }
}

/// The most recently activating key.
fn newest<K: std::borrow::Borrow<LiveKey>>(keys: &[K]) -> Option<&LiveKey> {
    keys.iter()
        .map(std::borrow::Borrow::borrow)
        .max_by_key(|k| (k.window.activates_at, k.created_at))
}

fn outcome(key: &LiveKey, already_pending: bool) -> RotationOutcome {
    RotationOutcome {
        kid: key.kid.clone(),
        alg: key.alg.as_str(),
        activates_at: key.window.activates_at,
        already_pending,
    }
}

/// Makes sure some key signs at `now`: promotes a scheduled key whose
/// private half is present, or else makes a key that signs at once.
fn ensure_signer(
    keys: &mut Vec<LiveKey>,
    dir: &Path,
    policy: KeyPolicy,
    now: i64,
) -> Result<(), KeyError> {
    if keys
        .iter()
        .any(|k| k.signer.is_some() && k.window.signs_at(now))
    {
        return Ok(());
    }
    let pending = keys
        .iter()
        .position(|k| k.signer.is_some() && k.window.activates_at > now);
    let chosen = match pending {
        Some(index) => {
            keys[index].window.activates_at = now;
            index
        }
        None => {
            keys.push(generate(policy.alg, now, now, dir)?);
            keys.len() - 1
        }
    };
    for (index, key) in keys.iter_mut().enumerate() {
        if index != chosen {
            key.window.retire_at(now, policy.retire_after);
        }
    }
    tracing::info!(kid = keys[chosen].kid, "signing key in use from now");
    Ok(())
}

fn generate(
    alg: SigningAlg,
    created_at: i64,
    activates_at: i64,
    dir: &Path,
) -> Result<LiveKey, KeyError> {
    let (pair, pkcs8) = KeyPair::generate(alg)?;
    let mut jwk = pair.public_jwk();
    jwk.kid = jwk.thumbprint();
    let path = private_path(dir, &jwk.kid);
    files::write_private(&path, &pkcs8).map_err(|e| KeyError::Io(path, e.to_string()))?;
    LiveKey::new(
        jwk,
        alg,
        created_at,
        Window::from(activates_at),
        Some(Arc::new(pair)),
    )
}

fn private_path(dir: &Path, kid: &str) -> PathBuf {
    dir.join(format!("{kid}.pk8"))
}

/// The private half of `jwk`, if its file is present; it must match.
fn read_private(
    dir: &Path,
    jwk: &PublicJwk,
    alg: SigningAlg,
) -> Result<Option<Arc<KeyPair>>, KeyError> {
    // Kids are thumbprints (base64url); anything else must not become a path.
    if !jwk
        .kid
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(KeyError::Corrupt(
            jwk.kid.clone(),
            "kid is not base64url".to_owned(),
        ));
    }
    let path = private_path(dir, &jwk.kid);
    match mesh::tls::check_key_file(&path) {
        Ok(Ok(())) => {}
        Ok(Err(open)) => return Err(KeyError::OpenKey(open)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(KeyError::Io(path, e.to_string())),
    }
    let der = match std::fs::read(&path) {
        Ok(der) => der,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(
                kid = jwk.kid,
                "private key file missing: this key will not sign"
            );
            return Ok(None);
        }
        Err(e) => return Err(KeyError::Io(path, e.to_string())),
    };
    let pair = KeyPair::from_pkcs8(alg, &der)?;
    if pair.public_jwk().thumbprint() != jwk.kid {
        return Err(KeyError::Corrupt(
            jwk.kid.clone(),
            format!("{} holds a different key", path.display()),
        ));
    }
    Ok(Some(Arc::new(pair)))
}

fn remove_private(dir: &Path, kid: &str) {
    let path = private_path(dir, kid);
    if let Err(e) = std::fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(kid, error = %e, "cannot delete a retired private key");
    }
}
