//! Rotating an OAuth client's secret without downtime: during a rotation a
//! client holds two valid secrets, the new (current) one and the previous
//! one until its grace period ends, so every instance of the client can
//! switch at its own pace. `POST /admin/clients/{id}/secret` starts a
//! rotation, `.../secret/finish` retires the previous secret early.
//!
//! A client that was never rotated uses its config secret. Rotated hashes
//! live in the database ([`SecretRow`]) and in memory here, read once at
//! start-up; the database row wins over the config from then on. Only
//! argon2id hashes are kept, never a secret.

use std::{
    collections::HashMap,
    sync::{PoisonError, RwLock},
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
}

impl Rotations {
    /// The state stored in `rows`; a stored hash that no longer parses is
    /// an error naming the client.
    pub(crate) fn load(rows: Vec<SecretRow>) -> Result<Self, String> {
        let entries = rows
            .iter()
            .map(|row| Ok((row.client_id.clone(), Rotated::from_row(row)?)))
            .collect::<Result<_, String>>()?;
        Ok(Self {
            entries: RwLock::new(entries),
        })
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
        })
    }

    /// Makes `row` (already stored) the state of its client.
    pub(crate) fn apply(&self, row: &SecretRow) -> Result<(), String> {
        let rotated = Rotated::from_row(row)?;
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(row.client_id.clone(), rotated);
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
