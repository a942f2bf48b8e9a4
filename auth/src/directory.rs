//! The checked, in-memory registry of clients, users, roles, scopes and
//! workload exchange rights that every grant consults.
//!
//! Built once at start-up from a checked [`ConfigFile`] and the resolved
//! credential hashes; read-only afterwards, so lookups take no lock.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::Arc,
};

use mesh::Role;

use crate::{
    config::{ClientGrant, ConfigFile},
    credentials::Hashes,
    password::PasswordHash,
    scope::Scope,
};

/// A registered OAuth client.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) id: String,
    pub(crate) secret: PasswordHash,
    pub(crate) grants: HashSet<ClientGrant>,
    /// The most any of its tokens may carry.
    pub(crate) scope: Scope,
    /// Audiences it may ask for.
    pub(crate) audiences: BTreeSet<String>,
    /// Audiences of its tokens when a request names none.
    pub(crate) default_audience: Vec<String>,
    /// Roles of its own (`client_credentials`) tokens.
    pub(crate) roles: Vec<Role>,
    /// Audiences it may exchange its users' tokens for (empty: none).
    pub(crate) exchange_audiences: BTreeSet<String>,
}

/// A user (resource owner).
#[derive(Debug)]
pub(crate) struct User {
    pub(crate) username: String,
    pub(crate) password: PasswordHash,
    pub(crate) roles: Vec<Role>,
    /// The union of the scopes of the user's roles.
    pub(crate) scope: Scope,
}

/// Every principal the server knows.
#[derive(Debug)]
pub(crate) struct Directory {
    scopes: Scope,
    clients: HashMap<String, Arc<Client>>,
    users: HashMap<String, Arc<User>>,
    /// Workload name to the audiences it may exchange tokens for.
    exchange: HashMap<String, BTreeSet<String>>,
    /// Workload name to the scopes of its own token.
    workload_scopes: HashMap<String, Scope>,
    /// Audience to the most an exchanged token for it may carry.
    audience_scopes: HashMap<String, Scope>,
}

impl Directory {
    /// The registry of a checked `config`, with a hash for every credential.
    pub(crate) fn new(config: ConfigFile, mut hashes: Hashes) -> Result<Self, String> {
        let role_scope = |roles: &[Role]| {
            roles.iter().fold(Scope::default(), |acc, role| {
                let granted = config
                    .roles
                    .get(role)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                acc.union(&Scope::from_tokens(granted.iter().cloned()))
            })
        };
        let mut clients = HashMap::new();
        for entry in &config.clients {
            let secret = hashes
                .clients
                .remove(&entry.id)
                .ok_or_else(|| format!("client '{}' has no secret", entry.id))?;
            let client = Client {
                id: entry.id.clone(),
                secret,
                grants: entry.grants.iter().copied().collect(),
                scope: Scope::from_tokens(entry.scopes.iter().cloned()),
                audiences: entry.audiences.iter().cloned().collect(),
                default_audience: entry
                    .default_audience
                    .clone()
                    .unwrap_or_else(|| entry.audiences.clone()),
                roles: entry.roles.clone(),
                exchange_audiences: entry.exchange_audiences.iter().cloned().collect(),
            };
            clients.insert(entry.id.clone(), Arc::new(client));
        }
        let mut users = HashMap::new();
        for entry in &config.users {
            let password = hashes
                .users
                .remove(&entry.username)
                .ok_or_else(|| format!("user '{}' has no password", entry.username))?;
            let user = User {
                username: entry.username.clone(),
                password,
                roles: entry.roles.clone(),
                scope: role_scope(&entry.roles),
            };
            users.insert(entry.username.clone(), Arc::new(user));
        }
        let exchange = config
            .workloads
            .iter()
            .map(|w| {
                (
                    w.name.clone(),
                    w.exchange_audiences.iter().cloned().collect(),
                )
            })
            .collect();
        let workload_scopes = config
            .workloads
            .iter()
            .filter(|w| !w.scopes.is_empty())
            .map(|w| (w.name.clone(), Scope::from_tokens(w.scopes.iter().cloned())))
            .collect();
        let audience_scopes = config
            .audience_scopes
            .iter()
            .map(|(audience, list)| (audience.clone(), Scope::from_tokens(list.iter().cloned())))
            .collect();
        Ok(Self {
            scopes: Scope::from_tokens(config.scopes.iter().cloned()),
            clients,
            users,
            exchange,
            workload_scopes,
            audience_scopes,
        })
    }

    /// The client `id`, if registered.
    pub(crate) fn client(&self, id: &str) -> Option<&Arc<Client>> {
        self.clients.get(id)
    }

    /// Every registered client's id.
    pub(crate) fn client_ids(&self) -> impl Iterator<Item = &str> {
        self.clients.keys().map(String::as_str)
    }

    /// The user `username`, if registered.
    pub(crate) fn user(&self, username: &str) -> Option<&Arc<User>> {
        self.users.get(username)
    }

    /// Audiences workload `name` may exchange tokens for (empty if none).
    pub(crate) fn exchange_audiences(&self, workload: &str) -> Option<&BTreeSet<String>> {
        self.exchange.get(workload)
    }

    /// The scopes of workload `name`'s own token, if it may have one.
    pub(crate) fn workload_scope(&self, workload: &str) -> Option<&Scope> {
        self.workload_scopes.get(workload)
    }

    /// The most an exchanged token for `audiences` may carry: what every
    /// one of them may receive (none for an audience with no entry).
    pub(crate) fn exchange_scope(&self, audiences: &[String]) -> Scope {
        let mut scopes = audiences
            .iter()
            .map(|a| self.audience_scopes.get(a).cloned().unwrap_or_default());
        let first = scopes.next().unwrap_or_default();
        scopes.fold(first, |acc, s| acc.intersection(&s))
    }

    /// Every scope a token may carry, for the discovery document.
    pub(crate) fn scopes(&self) -> &Scope {
        &self.scopes
    }

    /// Some client's secret hash, so that checks against an unknown client
    /// cost what checks against a known one cost.
    pub(crate) fn any_client_hash(&self) -> Option<&PasswordHash> {
        self.clients.values().next().map(|c| &c.secret)
    }

    /// Some user's password hash, for the same reason.
    pub(crate) fn any_user_hash(&self) -> Option<&PasswordHash> {
        self.users.values().next().map(|u| &u.password)
    }
}
