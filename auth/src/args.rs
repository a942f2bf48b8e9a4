//! Flags and environment variables of the `auth` binary, checked at
//! start-up with messages that name the flag at fault.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use mesh::config::parse_duration;

use crate::keys::SigningAlg;

/// Command-line flags and environment of the `auth` binary.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "auth",
    version,
    about = "The OAuth 2.0 authorization server of the mesh"
)]
pub struct Args {
    #[command(flatten)]
    pub mesh: mesh::ServerArgs,

    /// Address of the HTTPS port serving the OAuth 2.0 endpoints, JWKS and
    /// discovery (client certificate optional; it only marks a trusted proxy).
    #[arg(long, env = "AUTH_HTTP_LISTEN", default_value = "127.0.0.1:7443")]
    pub http_listen: SocketAddr,

    /// Directory of the database, signing keys and generated demo
    /// credentials (created with mode 0700; keep it out of version control).
    #[arg(long, env = "AUTH_DATA_DIR", default_value = ".mesh/auth")]
    pub data_dir: PathBuf,

    /// Clients, users, roles and scopes (TOML, or JSON if it ends in .json)
    /// [default: the demo seed, see auth/config/demo.toml].
    #[arg(long, env = "AUTH_CONFIG")]
    pub config: Option<PathBuf>,

    /// Signature algorithm of new signing keys. Changing it schedules a
    /// new key, published ahead like any rotation.
    #[arg(long, env = "AUTH_SIGNING_ALG", value_enum, default_value = "ES256")]
    pub signing_alg: SigningAlg,

    /// Lifetime of access tokens (10s to 24h).
    #[arg(long, env = "AUTH_ACCESS_TOKEN_TTL", default_value = "5m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,

    /// Lifetime of a login's refresh tokens, from the login (rotation does not extend it).
    #[arg(long, env = "AUTH_REFRESH_TOKEN_TTL", default_value = "8h", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,

    /// How long a new signing key is in the JWKS before it signs, so that
    /// verifiers' cached key sets already hold it.
    #[arg(long, env = "AUTH_KEY_PUBLISH_AHEAD", default_value = "10m", value_parser = parse_duration)]
    pub key_publish_ahead: Duration,

    /// Rotate the signing key automatically when it has signed this long
    /// (must exceed --key-publish-ahead) [default: only on request].
    #[arg(long, env = "AUTH_KEY_ROTATION_INTERVAL", value_parser = parse_duration)]
    pub key_rotation_interval: Option<Duration>,

    /// Enable the password grant for clients registered for it. Development
    /// only: RFC 9700 forbids it in production.
    /// (From the environment: true/false, yes/no, on/off or 1/0.)
    #[arg(long, env = "AUTH_ENABLE_PASSWORD_GRANT", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub enable_password_grant: bool,

    /// The first wait after too many failed logins of one user or client
    /// from one address; each further failure doubles it, up to a minute
    /// (or this, if longer). See the README's security rules.
    #[arg(long, env = "AUTH_LOGIN_BACKOFF", default_value = "1s", value_parser = parse_duration)]
    pub login_backoff: Duration,

    /// Mesh workloads that proxy the OAuth endpoints (comma separated).
    /// Only when such a workload is the TLS peer (by its client
    /// certificate) is its `x-forwarded-for` taken as the client's address,
    /// which failed logins are throttled by. It lends no other authority.
    #[arg(
        long = "trusted-proxy",
        env = "AUTH_TRUSTED_PROXIES",
        value_delimiter = ',',
        default_value = "gateway"
    )]
    pub trusted_proxies: Vec<String>,
}

impl Args {
    /// Checks the combinations clap cannot.
    pub(crate) fn check(&self) -> Result<(), String> {
        let ttl = self.access_token_ttl;
        if !(Duration::from_secs(10)..=Duration::from_secs(24 * 3600)).contains(&ttl) {
            return Err("--access-token-ttl must be between 10s and 24h".to_owned());
        }
        if self.refresh_token_ttl < ttl {
            return Err("--refresh-token-ttl must be at least --access-token-ttl".to_owned());
        }
        check_issuer(&self.mesh.jwt.issuer)?;
        if self.login_backoff > Duration::from_secs(3600) {
            return Err("--login-backoff must be at most 1h".to_owned());
        }
        if self.mesh.jwt.jwt_skew > Duration::from_secs(300) {
            return Err("--jwt-skew must be at most 5m".to_owned());
        }
        if self
            .key_rotation_interval
            .is_some_and(|interval| interval <= self.key_publish_ahead)
        {
            return Err(
                "--key-rotation-interval must be longer than --key-publish-ahead".to_owned(),
            );
        }
        Ok(())
    }
}

/// Whole seconds of `d`, as JWT times count.
pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// `--issuer` (shared with every validator of the mesh) is also the base
/// URL of the endpoints: `https://host[:port]`, nothing after it, since
/// validators compare `iss` with it byte for byte.
fn check_issuer(issuer: &str) -> Result<(), String> {
    let authority = issuer.strip_prefix("https://").unwrap_or_default();
    let valid = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "--issuer '{issuer}': the auth service needs https://host[:port] with no path, \
             trailing slash, query or user info (its endpoints are served at the root)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_are_https_origins() {
        assert!(check_issuer("https://auth:7443").is_ok());
        assert!(check_issuer("https://[::1]:7443").is_ok());
        for bad in [
            "http://auth",
            "https://",
            "https://auth/",
            "https://auth/path",
            "https://u@auth",
            "https://a?x",
        ] {
            assert!(check_issuer(bad).is_err(), "{bad}");
        }
    }
}
