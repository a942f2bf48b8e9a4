//! Rotating an OAuth client's secret without downtime: during a rotation a
//! client holds two valid secrets, the new (current) one and the previous
//! one until its grace period ends, so every instance of the client can
//! switch at its own pace. `POST /admin/clients/{id}/secret` starts a
//! rotation, `.../secret/finish` retires the previous secret early.
//!
//! A client that was never rotated uses its config secret. Rotated hashes
//! live in the database ([`SecretRow`]) and in memory here, read once at
//! start-up. The row wins over the config only while the config gives the
//! same hash it was rotated from: an operator who puts a new secret in the
//! config (the usual answer to a leak) gets exactly that secret, and the
//! rotation is dropped with a warning. (A config that hashes its secret at
//! start, from an environment variable or the demo file, changes hash at
//! every start, so there a restart ends a rotation's grace period: the new
//! secret is in the file or variable by then.) Only argon2id hashes are
//! kept, never a secret.

use std::{
    collections::HashMap,
    sync::{
        PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::{directory::Client, password::PasswordHash, store::SecretRow};

/// Which of a client's secrets a request presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generation {
    /// The newest secret (or the config's, for a client never rotated).
    Current,
    /// The one before it, still accepted during the grace period.
    Previous,
}

impl Generation {
    /// The `generation` label of `mesh_client_secret_used_total`.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Previous => "previous",
        }
    }
}

/// One client's rotated secrets.
#[derive(Debug, Clone)]
struct Rotated {
    current: PasswordHash,
    /// The previous secret and the time (Unix seconds) it stops working.
    previous: Option<(PasswordHash, i64)>,
}

impl Rotated {
    fn from_row(row: &SecretRow) -> Result<Self, String> {
        let parse = |hash: &str| {
            hash.parse::<PasswordHash>()
                .map_err(|e| format!("client '{}': stored rotated secret: {e}", row.client_id))
        };
        let previous = match (&row.previous_hash, row.previous_expires_at) {
            (Some(hash), Some(until)) => Some((parse(hash)?, until)),
            _ => None,
        };
        Ok(Self {
            current: parse(&row.current_hash)?,
            previous,
        })
    }
}

/// The rotated secrets of every client that has been rotated.
#[derive(Debug, Default)]
pub(crate) struct Rotations {
    entries: RwLock<HashMap<String, Rotated>>,
    /// Bumped by every change, so a secret verified before a change is
    /// never remembered as valid after it.
    epoch: AtomicU64,
}

impl Rotations {
    /// The state stored in `rows`, keeping only rows whose client's config
    /// hash (`config_hash`) is still the one they were rotated from; a
    /// stored hash that no longer parses is an error naming the client.
    pub(crate) fn load(
        rows: Vec<SecretRow>,
        config_hash: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let mut entries = HashMap::new();
        for row in rows {
            if config_hash(&row.client_id).as_deref() != Some(row.config_hash.as_str()) {
                tracing::warn!(
                    client = row.client_id,
                    "the config gives this client another secret than the one it was \
                     rotated from: the config's secret is used, the rotation is dropped"
                );
                continue;
            }
            entries.insert(row.client_id.clone(), Rotated::from_row(&row)?);
        }
        Ok(Self {
            entries: RwLock::new(entries),
            epoch: AtomicU64::new(0),
        })
    }

    /// The number of changes so far; see [`Rotations::epoch`]'s field.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Whether `client` has a previous secret still valid at `now`.
    pub(crate) fn in_grace(&self, client: &Client, now: i64) -> bool {
        self.hashes(client, now).1.is_some()
    }

    /// The hashes a secret presented for `client` at `now` is checked
    /// against, in order: the current one, then the previous one while its
    /// grace period lasts.
    pub(crate) fn hashes(&self, client: &Client, now: i64) -> (PasswordHash, Option<PasswordHash>) {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        match entries.get(&client.id) {
            Some(rotated) => (
                rotated.current.clone(),
                rotated
                    .previous
                    .as_ref()
                    .filter(|(_, until)| *until > now)
                    .map(|(hash, _)| hash.clone()),
            ),
            None => (client.secret.clone(), None),
        }
    }

    /// The row that makes `new` current and keeps today's current secret
    /// valid until `previous_until`.
    pub(crate) fn rotated(
        &self,
        client: &Client,
        new: &PasswordHash,
        previous_until: i64,
        now: i64,
    ) -> SecretRow {
        let (current, _) = self.hashes(client, now);
        SecretRow {
            client_id: client.id.clone(),
            current_hash: new.as_str().to_owned(),
            previous_hash: Some(current.as_str().to_owned()),
            previous_expires_at: Some(previous_until),
            config_hash: client.secret.as_str().to_owned(),
        }
    }

    /// The row without a previous secret, or `None` if the client has no
    /// previous secret to retire.
    pub(crate) fn finished(&self, client: &Client, now: i64) -> Option<SecretRow> {
        let (current, previous) = self.hashes(client, now);
        previous.map(|_| SecretRow {
            client_id: client.id.clone(),
            current_hash: current.as_str().to_owned(),
            previous_hash: None,
            previous_expires_at: None,
            config_hash: client.secret.as_str().to_owned(),
        })
    }

    /// Makes `row` (already stored) the state of its client.
    pub(crate) fn apply(&self, row: &SecretRow) -> Result<(), String> {
        let rotated = Rotated::from_row(row)?;
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(row.client_id.clone(), rotated);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Each client's previous secret's end of grace, for the metrics.
    pub(crate) fn previous_expiries(&self) -> Vec<(String, i64)> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .filter_map(|(id, r)| r.previous.as_ref().map(|(_, until)| (id.clone(), *until)))
            .collect()
    }
}
