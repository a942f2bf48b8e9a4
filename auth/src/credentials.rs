//! Where client secrets and user passwords come from, resolved once at
//! start-up into argon2id hashes.
//!
//! A config file gives each credential as a hash (`secret_hash`) or as the
//! name of an environment variable (`secret_env`). The demo seed gives
//! none: each demo credential comes from `AUTH_DEMO_<NAME>_SECRET` /
//! `AUTH_DEMO_<NAME>_PASSWORD`, or from `<data-dir>/demo-credentials.json`,
//! or is generated and added to that file (mode 0600) so that it stays the
//! same across restarts and `meshctl up` can show it. Values taken from the
//! environment are never written to disk.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::{
    config::ConfigFile,
    files,
    password::{HashParams, Hasher, PasswordHash},
    secret::Secret,
};

/// The demo credentials file in the data directory.
pub const DEMO_CREDENTIALS_FILE: &str = "demo-credentials.json";

/// The hashed credentials of every client and user of a config.
#[derive(Debug, Default)]
pub(crate) struct Hashes {
    pub(crate) clients: HashMap<String, PasswordHash>,
    pub(crate) users: HashMap<String, PasswordHash>,
}

/// The JSON document in `demo-credentials.json`.
#[derive(Default, Serialize, Deserialize)]
struct DemoFile {
    /// Read by people and `meshctl`, not by this server.
    #[serde(default)]
    note: String,
    #[serde(default)]
    clients: BTreeMap<String, String>,
    #[serde(default)]
    users: BTreeMap<String, String>,
}

/// Where one credential comes from.
enum Source<'a> {
    Hash(&'a str),
    Env(&'a str),
    Demo,
}

/// Whose credential it is.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Client,
    User,
}

impl Kind {
    fn what(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::User => "user",
        }
    }

    fn fields(self) -> &'static str {
        match self {
            Self::Client => "secret_hash or secret_env",
            Self::User => "password_hash or password_env",
        }
    }
}

impl Hashes {
    fn insert(&mut self, kind: Kind, name: String, hash: PasswordHash) {
        match kind {
            Kind::Client => self.clients.insert(name, hash),
            Kind::User => self.users.insert(name, hash),
        };
    }
}

/// Reads an environment variable; the process environment in production,
/// a map in tests.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub(crate) fn process_env(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

/// Resolves every credential of `config`. With `demo`, missing sources are
/// demo credentials kept in `data_dir`; otherwise they are errors. Secrets
/// given in clear (environment, demo) are hashed with `params`, in
/// parallel, as many at a time as the hasher allows.
pub(crate) async fn resolve(
    config: &ConfigFile,
    demo: bool,
    data_dir: &Path,
    hasher: &Hasher,
    env: Env<'_>,
    params: HashParams,
) -> Result<Hashes, CredentialError> {
    let clients = config
        .clients
        .iter()
        .map(|c| (Kind::Client, &c.id, &c.secret_hash, &c.secret_env));
    let users = config
        .users
        .iter()
        .map(|u| (Kind::User, &u.username, &u.password_hash, &u.password_env));
    let mut demo_file = DemoStore::open(data_dir)?;
    let mut hashes = Hashes::default();
    let mut hashing = tokio::task::JoinSet::new();
    for (kind, name, hash, var) in clients.chain(users) {
        let what = format!("{} '{name}'", kind.what());
        let source = source(hash, var, demo)
            .ok_or_else(|| CredentialError::Missing(format!("{what} needs {}", kind.fields())))?;
        let secret = match source {
            Source::Hash(hash) => {
                hashes.insert(kind, name.clone(), parse(&what, hash)?);
                continue;
            }
            Source::Env(var) => from_env(env, &what, var)?,
            Source::Demo => demo_file.get(env, kind, name),
        };
        let (hasher, name) = (hasher.clone(), name.clone());
        hashing.spawn(async move {
            let hash = hasher.hash(&secret, params).await;
            (kind, name, hash)
        });
    }
    while let Some(done) = hashing.join_next().await {
        let (kind, name, hash) = done
            .map_err(|e| CredentialError::Missing(format!("hashing a credential failed: {e}")))?;
        hashes.insert(kind, name, hash?);
    }
    demo_file.save()?;
    Ok(hashes)
}

fn source<'a>(hash: &'a Option<String>, env: &'a Option<String>, demo: bool) -> Option<Source<'a>> {
    match (hash, env) {
        (Some(hash), _) => Some(Source::Hash(hash)),
        (None, Some(var)) => Some(Source::Env(var)),
        (None, None) if demo => Some(Source::Demo),
        (None, None) => None,
    }
}

/// A hash from the config: well formed, and at least as costly as OWASP's
/// minimum, or a guess per hash would be cheap for whoever reads the file.
fn parse(what: &str, hash: &str) -> Result<PasswordHash, CredentialError> {
    let hash: PasswordHash = hash
        .parse()
        .map_err(|e| CredentialError::Missing(format!("{what}: unusable hash: {e}")))?;
    let params = hash.params();
    if !params.meets_owasp_minimum() {
        return Err(CredentialError::Missing(format!(
            "{what}: the argon2id hash uses m={} KiB, t={}, below OWASP's minimum \
             (m=19456 KiB with t=2, or m=47104/t=1, 12288/3, 9216/4, 7168/5): \
             hash the secret again with at least those settings",
            params.memory_kib, params.iterations
        )));
    }
    Ok(hash)
}

fn from_env(env: Env<'_>, what: &str, var: &str) -> Result<Secret, CredentialError> {
    match env(var) {
        Some(value) if !value.is_empty() => Ok(Secret::new(value)),
        _ => Err(CredentialError::Missing(format!(
            "{what}: environment variable {var} is not set"
        ))),
    }
}

/// The demo credentials file, read lazily and written only if it changed.
struct DemoStore {
    path: PathBuf,
    file: Option<DemoFile>,
    changed: bool,
}

impl DemoStore {
    fn open(data_dir: &Path) -> Result<Self, CredentialError> {
        let path = data_dir.join(DEMO_CREDENTIALS_FILE);
        let file = match std::fs::read(&path) {
            Ok(bytes) => Some(serde_json::from_slice(&bytes).map_err(|e| {
                CredentialError::File(path.clone(), format!("not a demo credentials file: {e}"))
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(CredentialError::File(path, e.to_string())),
        };
        Ok(Self {
            path,
            file,
            changed: false,
        })
    }

    /// The demo credential of `name`: from `AUTH_DEMO_<NAME>_SECRET` (or
    /// `_PASSWORD`), the file, or generated and recorded.
    fn get(&mut self, env: Env<'_>, kind: Kind, name: &str) -> Secret {
        let suffix = match kind {
            Kind::Client => "SECRET",
            Kind::User => "PASSWORD",
        };
        let var = format!("AUTH_DEMO_{}_{suffix}", env_name(name));
        if let Some(value) = env(&var)
            && !value.is_empty()
        {
            return Secret::new(value);
        }
        let file = self.file.get_or_insert_with(DemoFile::default);
        let map = match kind {
            Kind::Client => &mut file.clients,
            Kind::User => &mut file.users,
        };
        if let Some(existing) = map.get(name) {
            return Secret::new(existing.clone());
        }
        let secret = Secret::generate();
        map.insert(name.to_owned(), secret.expose().to_owned());
        self.changed = true;
        secret
    }

    fn save(mut self) -> Result<(), CredentialError> {
        let Some(file) = self.file.as_mut().filter(|_| self.changed) else {
            return Ok(());
        };
        file.note = "Generated demo credentials of the auth service. Development only; \
                     delete this file to generate new ones."
            .to_owned();
        let json = serde_json::to_vec_pretty(file)
            .map_err(|e| CredentialError::File(self.path.clone(), e.to_string()))?;
        if let Some(dir) = self.path.parent() {
            files::create_private_dir(dir)
                .map_err(|e| CredentialError::File(dir.to_owned(), e.to_string()))?;
        }
        files::write_private(&self.path, &json)
            .map_err(|e| CredentialError::File(self.path.clone(), e.to_string()))?;
        tracing::info!(path = %self.path.display(), "wrote generated demo credentials");
        Ok(())
    }
}

/// `meshctl` → `MESHCTL`, `my-app.v2` → `MY_APP_V2`.
fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Why a credential cannot be resolved.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("{0}")]
    Missing(String),
    #[error("{0}: {1}")]
    File(PathBuf, String),
    #[error(transparent)]
    Hash(#[from] crate::password::HashError),
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
    };

    #[test]
    fn env_names_are_shell_safe() {
        assert_eq!(env_name("meshctl"), "MESHCTL");
        assert_eq!(env_name("my-app.v2"), "MY_APP_V2");
    }

    #[tokio::test]
    async fn demo_credentials_come_from_the_environment_or_are_generated_once() {
        let dir = tempfile::tempdir().expect("dir");
        let config = ConfigFile::demo().expect("demo seed");
        let env = |var: &str| (var == "AUTH_DEMO_LOADGEN_SECRET").then(|| "from-env".to_owned());
        let hasher = Hasher::new(2);
        let first = resolve(&config, true, dir.path(), &hasher, &env, CHEAP)
            .await
            .expect("resolve");
        assert!(first.clients["loadgen"].verify("from-env"));

        let file: DemoFile = serde_json::from_slice(
            &std::fs::read(dir.path().join(DEMO_CREDENTIALS_FILE)).expect("file"),
        )
        .expect("JSON");
        // Values from the environment are never written to disk.
        assert!(!file.clients.contains_key("loadgen"));
        let gateway = file.clients["gateway"].clone();
        assert!(first.clients["gateway"].verify(&gateway));
        assert!(first.users["ada"].verify(&file.users["ada"]));

        // A second start reuses the file.
        let no_env = |_: &str| None;
        let second = resolve(&config, true, dir.path(), &hasher, &no_env, CHEAP)
            .await
            .expect("again");
        assert!(second.clients["gateway"].verify(&gateway));
    }

    #[tokio::test]
    async fn a_config_file_names_the_environment_variable() {
        let dir = tempfile::tempdir().expect("dir");
        let mut config = ConfigFile::demo().expect("demo seed");
        config.users.clear();
        config.clients.truncate(1);
        config.clients[0].secret_env = Some("GATEWAY_SECRET".to_owned());
        let hasher = Hasher::new(2);
        let env = |var: &str| (var == "GATEWAY_SECRET").then(|| "s3cret".to_owned());
        let hashes = resolve(&config, false, dir.path(), &hasher, &env, CHEAP)
            .await
            .expect("resolve");
        assert!(hashes.clients["gateway"].verify("s3cret"));
        assert!(!dir.path().join(DEMO_CREDENTIALS_FILE).exists());

        let unset = |_: &str| None;
        let error = resolve(&config, false, dir.path(), &hasher, &unset, CHEAP)
            .await
            .expect_err("unset variable");
        assert!(
            error.to_string().contains("GATEWAY_SECRET is not set"),
            "{error}"
        );
    }
}
