//! Talking to a running stack from the outside, as a user does: HTTPS to the
//! gateway trusting the mesh CA, the demo credentials auth generated, and
//! OAuth token requests (`password` for demo users through the `meshctl`
//! client, `client_credentials` for demo clients).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use clap::Args;
use serde::{Deserialize, Serialize};

/// The OAuth client `meshctl` uses for the password grant.
const MESHCTL_CLIENT: &str = "meshctl";

/// Where a running stack is and what to trust, shared by `token`, `demo`
/// and `load`.
#[derive(Debug, Clone, Args)]
pub(crate) struct StackArgs {
    /// The gateway's public URL. Default: the one `meshctl up` recorded in
    /// the data directory, else https://127.0.0.1:8443.
    #[arg(long, env = "MESHCTL_GATEWAY")]
    pub(crate) gateway: Option<String>,

    /// The directory `meshctl up` keeps its state in (certificates, demo
    /// credentials, the running stack's addresses).
    #[arg(long, env = "MESH_DATA_DIR", default_value = ".mesh")]
    pub(crate) data_dir: PathBuf,

    /// The CA that signed the gateway's certificate. Default: `<data-dir>/certs/ca.pem`.
    #[arg(long)]
    pub(crate) ca: Option<PathBuf>,

    /// The demo credentials file. Default: `<data-dir>/auth/demo-credentials.json`.
    #[arg(long)]
    pub(crate) credentials: Option<PathBuf>,
}

impl StackArgs {
    /// The gateway's base URL, without a trailing slash.
    pub(crate) fn gateway_url(&self) -> anyhow::Result<String> {
        let url = match &self.gateway {
            Some(url) => url.clone(),
            None => match StackFile::read(&self.data_dir) {
                Ok(Some(stack)) => stack.gateway,
                Ok(None) => "https://127.0.0.1:8443".to_owned(),
                Err(e) => return Err(e),
            },
        };
        let url = url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&url)
            .with_context(|| format!("--gateway {url}: not a URL (expected https://HOST:PORT)"))?;
        if parsed.scheme() != "https" {
            bail!("--gateway {url}: the gateway only speaks HTTPS (expected https://HOST:PORT)");
        }
        Ok(url)
    }

    /// The CA certificate file.
    pub(crate) fn ca_path(&self) -> PathBuf {
        self.ca
            .clone()
            .unwrap_or_else(|| self.data_dir.join("certs").join("ca.pem"))
    }

    /// The demo credentials file.
    pub(crate) fn credentials_path(&self) -> PathBuf {
        self.credentials
            .clone()
            .unwrap_or_else(|| self.data_dir.join("auth").join("demo-credentials.json"))
    }

    /// An HTTPS client for the gateway and the demo credentials.
    pub(crate) fn connect(&self) -> anyhow::Result<Gateway> {
        Ok(Gateway {
            base: self.gateway_url()?,
            http: https_client(&self.ca_path())?,
            credentials: Credentials::read(&self.credentials_path())?,
        })
    }
}

/// A TLS client configuration trusting only the CA in `ca`, presenting no
/// certificate (what any client of the gateway's public port uses).
pub(crate) fn ca_tls_config(ca: &Path) -> anyhow::Result<rustls::ClientConfig> {
    let roots = mesh::tls::load_roots(ca).map_err(|e| {
        anyhow::anyhow!(
            "{e} (the CA of a stack started by `meshctl up` is <data-dir>/certs/ca.pem)"
        )
    })?;
    Ok(
        rustls::ClientConfig::builder_with_provider(mesh::tls::provider())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// An HTTP client (HTTP/1.1 and h2) trusting only the CA in `ca`.
pub(crate) fn https_client(ca: &Path) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .use_preconfigured_tls(ca_tls_config(ca)?)
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .context("HTTPS client")
}

/// The demo users' passwords and clients' secrets, as auth wrote them.
/// Its `Debug` shows names only.
#[derive(Clone, Deserialize)]
pub(crate) struct Credentials {
    #[serde(default)]
    pub(crate) clients: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) users: BTreeMap<String, String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("clients", &self.clients.keys().collect::<Vec<_>>())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Credentials {
    pub(crate) fn read(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "--credentials {}: cannot read the demo credentials (auth writes them into its data directory on first start)",
                path.display()
            )
        })?;
        serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "--credentials {}: not a demo credentials file",
                path.display()
            )
        })
    }

    fn user(&self, name: &str) -> anyhow::Result<&str> {
        self.users.get(name).map(String::as_str).with_context(|| {
            format!(
                "no demo user '{name}' (known: {})",
                self.users.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }

    pub(crate) fn client(&self, name: &str) -> anyhow::Result<&str> {
        self.clients.get(name).map(String::as_str).with_context(|| {
            format!(
                "no demo client '{name}' (known: {})",
                self.clients.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }
}

/// An OAuth token response (RFC 6749 §5.1). Its `Debug` leaves the
/// tokens out.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) token_type: String,
    pub(crate) expires_in: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Who a token is for.
#[derive(Debug, Clone)]
pub(crate) enum Subject {
    /// A demo user, through the password grant of the `meshctl` client.
    User(String),
    /// A demo client, through `client_credentials`.
    Client(String),
}

/// A running stack, reached through its gateway.
#[derive(Debug, Clone)]
pub(crate) struct Gateway {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) credentials: Credentials,
}

impl Gateway {
    /// `base` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A token for `subject` from auth's token endpoint (through the gateway).
    pub(crate) async fn token(
        &self,
        subject: &Subject,
        scope: Option<&str>,
        audience: Option<&str>,
    ) -> anyhow::Result<TokenResponse> {
        let (client, secret, mut form) = match subject {
            Subject::User(user) => (
                MESHCTL_CLIENT,
                self.credentials.client(MESHCTL_CLIENT)?,
                vec![
                    ("grant_type", "password"),
                    ("username", user.as_str()),
                    ("password", self.credentials.user(user)?),
                ],
            ),
            Subject::Client(client) => (
                client.as_str(),
                self.credentials.client(client)?,
                vec![("grant_type", "client_credentials")],
            ),
        };
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        if let Some(audience) = audience {
            form.push(("audience", audience));
        }
        let url = self.url("/oauth2/token");
        let request = self
            .http
            .post(&url)
            .basic_auth(client, Some(secret))
            .form(&form);
        let body = expect_success(request, &url).await?;
        serde_json::from_str(&body).with_context(|| format!("POST {url}: not a token response"))
    }

    /// POSTs `body` as JSON with a bearer token and returns the JSON answer;
    /// any status but 2xx is an error carrying the gateway's explanation.
    pub(crate) async fn post_json(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let url = self.url(path);
        let request = self.http.post(&url).bearer_auth(token).json(body);
        let answer = expect_success(request, &url).await?;
        serde_json::from_str(&answer).with_context(|| format!("POST {url}: the answer is not JSON"))
    }
}

/// Sends `request` (a POST to `url`) and returns the body of a 2xx answer.
async fn expect_success(request: reqwest::RequestBuilder, url: &str) -> anyhow::Result<String> {
    let response = request
        .send()
        .await
        .with_context(|| format!("POST {url}: is the stack running (`meshctl up`)?"))?;
    let status = response.status();
    let body = response.text().await.context("read the answer")?;
    if !status.is_success() {
        bail!("POST {url}: {status}: {}", error_text(&body));
    }
    Ok(body)
}

/// The useful part of an error body: an OAuth `error_description` or a
/// problem's `detail`, else the body itself.
pub(crate) fn error_text(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            ["error_description", "detail", "error", "title"]
                .iter()
                .find_map(|k| v[k].as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| body.chars().take(300).collect())
}

/// What `meshctl up` records about the running stack in
/// `<data-dir>/stack.json`, for the other commands and for people.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StackFile {
    /// The gateway's public URL.
    pub(crate) gateway: String,
    /// Each process: name, pid, gRPC address, metrics URL.
    pub(crate) processes: Vec<ProcessEntry>,
}

/// One process of a running stack.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ProcessEntry {
    pub(crate) name: String,
    pub(crate) pid: u32,
    pub(crate) grpc: String,
    pub(crate) metrics: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) https: Option<String>,
    /// Times `meshctl up` started it again after it died.
    #[serde(default)]
    pub(crate) restarts: u32,
    /// When the running process started (Unix seconds).
    #[serde(default)]
    pub(crate) started_at: u64,
}

impl StackFile {
    pub(crate) const NAME: &'static str = "stack.json";

    /// The record in `data_dir`, if a stack wrote one.
    pub(crate) fn read(data_dir: &Path) -> anyhow::Result<Option<Self>> {
        let path = data_dir.join(Self::NAME);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .with_context(|| format!("{}: not a stack record", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}
