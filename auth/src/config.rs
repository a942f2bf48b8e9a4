//! The configuration file (`--config`, TOML or JSON): scopes, audiences,
//! roles, clients, users and which workloads may exchange tokens.
//!
//! [`ConfigFile::check`] validates it whole at start-up, with messages that
//! name the entry at fault; nothing later re-checks. Without `--config` the
//! documented demo seed in `auth/config/demo.toml` is used.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    path::{Path, PathBuf},
};

use mesh::Role;
use serde::Deserialize;

use crate::scope::Scope;

/// The demo seed, built into the binary.
const DEMO: &str = include_str!("../config/demo.toml");

/// A grant a client may use at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientGrant {
    /// Tokens for the client itself.
    ClientCredentials,
    /// Tokens for a user who gives the client their password (development only).
    Password,
    /// New tokens from a refresh token issued to this client.
    RefreshToken,
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Every scope a token may carry.
    pub scopes: Vec<String>,
    /// Every audience a token may name.
    pub audiences: Vec<String>,
    /// Scopes each role may hold.
    #[serde(default)]
    pub roles: HashMap<Role, Vec<String>>,
    /// OAuth clients.
    #[serde(default)]
    pub clients: Vec<ClientEntry>,
    /// Users (resource owners) for the password grant.
    #[serde(default)]
    pub users: Vec<UserEntry>,
    /// Token exchange rights of mesh workloads.
    #[serde(default)]
    pub workloads: Vec<WorkloadEntry>,
    /// The most an exchanged token for each audience may carry: the
    /// exchange grants the intersection of this and the subject token's
    /// scope. An audience not listed receives tokens with no scope.
    #[serde(default)]
    pub audience_scopes: HashMap<String, Vec<String>>,
}

/// One OAuth client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    /// The `client_id`.
    pub id: String,
    /// Argon2id PHC hash of the secret.
    #[serde(default)]
    pub secret_hash: Option<String>,
    /// Name of an environment variable holding the secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Grants the client may use.
    pub grants: Vec<ClientGrant>,
    /// Scopes the client may request.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Audiences the client may request tokens for.
    pub audiences: Vec<String>,
    /// Audiences used when a request names none [default: all of `audiences`].
    #[serde(default)]
    pub default_audience: Option<Vec<String>>,
    /// Roles carried by the client's own (`client_credentials`) tokens.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Audiences it may exchange its users' tokens for at the public token
    /// endpoint (RFC 8693); none by default, so it may not exchange at all.
    #[serde(default)]
    pub exchange_audiences: Vec<String>,
}

/// One user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    /// The login name, and the `sub` of the user's tokens.
    pub username: String,
    /// Argon2id PHC hash of the password.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// Name of an environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// The user's roles.
    pub roles: Vec<Role>,
}

/// What one mesh workload may do at the token exchange.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadEntry {
    /// The workload name (last segment of its SPIFFE ID).
    pub name: String,
    /// Audiences it may exchange tokens for.
    pub exchange_audiences: Vec<String>,
    /// Scopes of its own token (`auth.v1.WorkloadTokens`), for work no
    /// user waits on; none means it gets no token of its own.
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl ConfigFile {
    /// Reads `path`: JSON if it ends in `.json`, TOML otherwise.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        let parsed = if path.extension().is_some_and(|ext| ext == "json") {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            toml::from_str(&text).map_err(|e| e.to_string())
        };
        let config: Self = parsed.map_err(|detail| ConfigError::Parse {
            path: path.to_owned(),
            detail,
        })?;
        config.check().map_err(|detail| ConfigError::Invalid {
            source_name: path.display().to_string(),
            detail,
        })?;
        Ok(config)
    }

    /// The demo seed (`auth/config/demo.toml`).
    pub fn demo() -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(DEMO).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("auth/config/demo.toml"),
            detail: e.to_string(),
        })?;
        config.check().map_err(|detail| ConfigError::Invalid {
            source_name: "the built-in demo seed".to_owned(),
            detail,
        })?;
        Ok(config)
    }

    /// Checks names and cross references; returns what is wrong, naming the entry.
    pub fn check(&self) -> Result<(), String> {
        let scopes = unique("scopes", self.scopes.iter().map(String::as_str))?;
        for scope in &scopes {
            if Scope::parse(scope).map(|s| s.iter().count()) != Ok(1) {
                return Err(format!("scopes: '{scope}' is not a valid scope token"));
            }
        }
        let audiences = unique("audiences", self.audiences.iter().map(String::as_str))?;
        for audience in &audiences {
            check_name("audiences", audience)?;
        }
        let known_scopes = |what: &str, list: &[String]| match list
            .iter()
            .find(|s| !scopes.contains(s.as_str()))
        {
            Some(s) => Err(format!("{what}: scope '{s}' is not in `scopes`")),
            None => Ok(()),
        };
        let known_audiences = |what: &str, list: &[String]| match list
            .iter()
            .find(|a| !audiences.contains(a.as_str()))
        {
            Some(a) => Err(format!("{what}: audience '{a}' is not in `audiences`")),
            None => Ok(()),
        };
        for (role, list) in &self.roles {
            known_scopes(&format!("roles.{role}"), list)?;
        }
        unique("clients", self.clients.iter().map(|c| c.id.as_str()))?;
        for client in &self.clients {
            let what = format!("client '{}'", client.id);
            check_name(&what, &client.id)?;
            if client.secret_hash.is_some() && client.secret_env.is_some() {
                return Err(format!("{what}: give secret_hash or secret_env, not both"));
            }
            if client.grants.is_empty() {
                return Err(format!("{what}: `grants` is empty"));
            }
            known_scopes(&what, &client.scopes)?;
            if client.audiences.is_empty() {
                return Err(format!("{what}: `audiences` is empty"));
            }
            known_audiences(&what, &client.audiences)?;
            if let Some(default) = &client.default_audience {
                if default.is_empty() {
                    return Err(format!("{what}: `default_audience` is empty"));
                }
                if let Some(a) = default.iter().find(|a| !client.audiences.contains(a)) {
                    return Err(format!(
                        "{what}: default audience '{a}' is not in its `audiences`"
                    ));
                }
            }
            known_audiences(
                &format!("{what} exchange_audiences"),
                &client.exchange_audiences,
            )?;
        }
        unique("users", self.users.iter().map(|u| u.username.as_str()))?;
        for user in &self.users {
            let what = format!("user '{}'", user.username);
            check_name(&what, &user.username)?;
            if user.password_hash.is_some() && user.password_env.is_some() {
                return Err(format!(
                    "{what}: give password_hash or password_env, not both"
                ));
            }
            if user.roles.is_empty() {
                return Err(format!("{what}: `roles` is empty"));
            }
            // A client's own tokens carry `sub` = its id: sharing a name
            // with a user would let the client own that user's objects.
            if self.clients.iter().any(|c| c.id == user.username) {
                return Err(format!(
                    "{what} and client '{}' share one name, so the client's tokens would \
                     act as the user: rename one of them",
                    user.username
                ));
            }
        }
        unique("workloads", self.workloads.iter().map(|w| w.name.as_str()))?;
        for workload in &self.workloads {
            let what = format!("workload '{}'", workload.name);
            check_name(&what, &workload.name)?;
            known_audiences(&what, &workload.exchange_audiences)?;
            known_scopes(&what, &workload.scopes)?;
        }
        for (audience, list) in &self.audience_scopes {
            let what = format!("audience_scopes.{audience}");
            if !audiences.contains(audience.as_str()) {
                return Err(format!(
                    "{what}: audience '{audience}' is not in `audiences`"
                ));
            }
            known_scopes(&what, list)?;
        }
        Ok(())
    }
}

/// The names in `items`, or the first one that appears twice.
fn unique<'a>(
    what: &str,
    items: impl Iterator<Item = &'a str>,
) -> Result<BTreeSet<&'a str>, String> {
    let mut seen = HashSet::new();
    let mut set = BTreeSet::new();
    for item in items {
        if !seen.insert(item) {
            return Err(format!("{what}: '{item}' appears twice"));
        }
        set.insert(item);
    }
    Ok(set)
}

/// Client ids, usernames, audiences and workloads: 1 to 64 characters of
/// `[A-Za-z0-9._-]`, so they are safe in logs, metrics and claims.
fn check_name(what: &str, name: &str) -> Result<(), String> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{what}: '{name}' must be 1 to 64 characters of letters, digits, '.', '_' and '-'"
        ))
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--config {path}: cannot read: {detail}")]
    Read { path: PathBuf, detail: String },
    #[error("--config {path}: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("{source_name}: {detail}")]
    Invalid { source_name: String, detail: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_seed_is_valid() {
        let demo = ConfigFile::demo().expect("demo seed");
        let users: Vec<_> = demo.users.iter().map(|u| u.username.as_str()).collect();
        assert_eq!(users, ["alice", "bob", "maria", "ada"]);
        assert!(
            demo.clients
                .iter()
                .all(|c| c.secret_hash.is_none() && c.secret_env.is_none())
        );
    }

    #[test]
    fn cross_references_are_checked() {
        let mut config = ConfigFile::demo().expect("demo seed");
        config.clients[0].scopes.push("root".to_owned());
        let error = config.check().expect_err("unknown scope");
        assert!(
            error.contains("client 'gateway'") && error.contains("'root'"),
            "{error}"
        );

        let mut config = ConfigFile::demo().expect("demo seed");
        config.users[1].username = "alice".to_owned();
        assert!(
            config
                .check()
                .expect_err("duplicate")
                .contains("appears twice")
        );

        let mut config = ConfigFile::demo().expect("demo seed");
        config.workloads[0]
            .exchange_audiences
            .push("elsewhere".to_owned());
        assert!(config.check().is_err());
    }

    #[test]
    fn unknown_fields_are_errors() {
        let text = "scopes = []\naudiences = []\nadmins = true\n";
        assert!(toml::from_str::<ConfigFile>(text).is_err());
    }
}
