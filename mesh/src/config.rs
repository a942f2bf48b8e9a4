//! Command-line flags and environment variables shared by every workload,
//! parsed with clap and checked at start-up. A binary flattens
//! [`ServerArgs`] into its own arguments.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, ValueEnum};

use crate::{identity::TrustDomain, tls::TlsFiles};

/// A workload of the mesh: its name (the last segment of its SPIFFE ID) and
/// the ports it listens on when no flag says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Name in SPIFFE IDs, certificates, metrics and logs.
    pub name: &'static str,
    /// Default mutual-TLS gRPC port.
    pub grpc_port: u16,
    /// Default admin HTTP port (`/metrics`, `/healthz`, `/readyz`).
    pub admin_port: u16,
}

/// The token service.
pub const AUTH: Workload = Workload {
    name: "auth",
    grpc_port: 7001,
    admin_port: 9001,
};
/// The public edge.
pub const GATEWAY: Workload = Workload {
    name: "gateway",
    grpc_port: 7000,
    admin_port: 9000,
};
/// Orders and the payment saga.
pub const ORDERS: Workload = Workload {
    name: "orders",
    grpc_port: 7002,
    admin_port: 9002,
};
/// Charges and refunds.
pub const PAYMENTS: Workload = Workload {
    name: "payments",
    grpc_port: 7003,
    admin_port: 9003,
};
/// Accounts and the ledger.
pub const ACCOUNTS: Workload = Workload {
    name: "accounts",
    grpc_port: 7004,
    admin_port: 9004,
};

/// Flags common to every workload's server.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address of the mutual-TLS gRPC port [default: 127.0.0.1:<workload port>].
    #[arg(long, env = "MESH_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// Address of the plain-HTTP admin port serving /metrics, /healthz and
    /// /readyz [default: 127.0.0.1:<workload admin port>].
    #[arg(long, env = "MESH_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,

    #[command(flatten)]
    pub tls: TlsArgs,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub jwt: JwtArgs,

    /// Load testing: workloads (for example `loadgen`) that may call every
    /// public RPC directly, as the gateway does, bypassing the edge's limits.
    /// Repeat the flag or separate names with commas; none by default.
    #[arg(long = "load-test-peer", env = "MESH_LOAD_TEST_PEERS", value_name = "NAME",
          value_delimiter = ',', value_parser = parse_workload_name)]
    pub load_test_peers: Vec<String>,

    /// Log line format.
    #[arg(long, env = "MESH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Where a workload's certificate, key and CA bundle are.
#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// Directory holding `<workload>.pem`, `<workload>-key.pem` and `ca.pem`
    /// (as written by `meshctl certs`); used for any of --cert, --key, --ca not given.
    #[arg(long, env = "MESH_CERTS_DIR", default_value = ".mesh/certs")]
    pub certs_dir: PathBuf,

    /// The workload's certificate chain (PEM, leaf first).
    #[arg(long, env = "MESH_CERT")]
    pub cert: Option<PathBuf>,

    /// The workload's private key (PEM).
    #[arg(long, env = "MESH_KEY")]
    pub key: Option<PathBuf>,

    /// The mesh CA bundle peers must chain to (PEM).
    #[arg(long, env = "MESH_CA")]
    pub ca: Option<PathBuf>,

    /// Trust domain of every SPIFFE ID in the mesh.
    #[arg(long, env = "MESH_TRUST_DOMAIN", default_value = "mesh.local")]
    pub trust_domain: TrustDomain,

    /// How often to check the certificate files for rotation.
    #[arg(long, env = "MESH_TLS_RELOAD_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub tls_reload_interval: Duration,
}

impl TlsArgs {
    /// The files of workload `name`, defaults filled in from --certs-dir.
    pub fn files(&self, name: &str) -> TlsFiles {
        let dir = &self.certs_dir;
        TlsFiles {
            cert: self
                .cert
                .clone()
                .unwrap_or_else(|| dir.join(format!("{name}.pem"))),
            key: self
                .key
                .clone()
                .unwrap_or_else(|| dir.join(format!("{name}-key.pem"))),
            ca: self.ca.clone().unwrap_or_else(|| dir.join("ca.pem")),
        }
    }
}

/// Protocol limits. Several HTTP/2 limits default to "none" in the
/// libraries underneath, so every one is set explicitly.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Most concurrent HTTP/2 streams per connection; more are refused.
    #[arg(long, env = "MESH_MAX_CONCURRENT_STREAMS", default_value_t = 128,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_streams: u32,

    /// Largest gRPC message accepted, in bytes.
    #[arg(long, env = "MESH_MAX_MESSAGE_BYTES", default_value_t = 4 << 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_message_bytes: u32,

    /// Largest HTTP/2 header list accepted, in bytes.
    #[arg(long, env = "MESH_MAX_HEADER_LIST_BYTES", default_value_t = 16 << 10,
          value_parser = clap::value_parser!(u32).range(1024..))]
    pub max_header_list_bytes: u32,

    /// Streams a client may reset before the server has accepted them,
    /// per connection; past it the connection is closed (rapid reset).
    #[arg(long, env = "MESH_MAX_PENDING_RESETS", default_value_t = 20)]
    pub max_pending_accept_reset_streams: usize,

    /// Streams the server may reset for protocol errors per connection
    /// before it closes the connection.
    #[arg(long, env = "MESH_MAX_LOCAL_ERROR_RESETS", default_value_t = 256)]
    pub max_local_error_reset_streams: usize,

    /// Upper bound on handling one request, whatever deadline the caller sets.
    #[arg(long, env = "MESH_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// A TLS handshake not finished in this time is dropped (slow clients).
    #[arg(long, env = "MESH_HANDSHAKE_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub handshake_timeout: Duration,

    /// A public (HTTPS) connection with no request in progress for this long
    /// (from the handshake, or since its last request) is closed gracefully.
    #[arg(long, env = "MESH_IDLE_TIMEOUT", default_value = "2m", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// Handshakes in progress at once; new connections past it are dropped.
    #[arg(long, env = "MESH_MAX_PENDING_HANDSHAKES", default_value_t = 512)]
    pub max_pending_handshakes: usize,

    /// Time given to in-flight calls to finish on shutdown.
    #[arg(long, env = "MESH_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_concurrent_streams: 128,
            max_message_bytes: 4 << 20,
            max_header_list_bytes: 16 << 10,
            max_pending_accept_reset_streams: 20,
            max_local_error_reset_streams: 256,
            request_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(120),
            max_pending_handshakes: 512,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// How tokens are validated and where the keys come from.
#[derive(Debug, Clone, Args)]
pub struct JwtArgs {
    /// The public issuer URL every `iss` must equal: where clients reach
    /// the OAuth endpoints, i.e. the gateway (tokens carry it, and auth's
    /// discovery document names every endpoint under it). Workloads never
    /// fetch from it: their keys come over the mesh's mutual TLS.
    #[arg(long, env = "MESH_ISSUER", default_value = "https://127.0.0.1:8443")]
    pub issuer: String,

    /// The audience that must be in every token's `aud` [default: the workload name].
    #[arg(long, env = "MESH_AUDIENCE")]
    pub audience: Option<String>,

    /// Accepted signature algorithms (asymmetric only).
    #[arg(long, env = "MESH_JWT_ALGORITHMS", value_delimiter = ',', default_value = "ES256,RS256,EdDSA",
          value_parser = parse_algorithm)]
    pub jwt_algorithms: Vec<jsonwebtoken::Algorithm>,

    /// Clock skew tolerated on exp, nbf and iat.
    #[arg(long, env = "MESH_JWT_SKEW", default_value = "30s", value_parser = parse_duration)]
    pub jwt_skew: Duration,

    /// Verified tokens kept in memory (0 turns the cache off).
    #[arg(long, env = "MESH_TOKEN_CACHE_SIZE", default_value_t = 10_000)]
    pub token_cache_size: usize,

    /// Address (host:port) of the auth workload's mutual-TLS port, for the JWKS.
    #[arg(long, env = "MESH_AUTH_ADDR", default_value = "127.0.0.1:7001")]
    pub auth_addr: String,

    /// How often the JWKS is refreshed in the background.
    #[arg(long, env = "MESH_JWKS_REFRESH_INTERVAL", default_value = "5m", value_parser = parse_duration)]
    pub jwks_refresh_interval: Duration,

    /// Least time between two JWKS fetches caused by unknown key ids.
    #[arg(long, env = "MESH_JWKS_MIN_REFRESH_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub jwks_min_refresh_interval: Duration,

    /// Age after which the last good JWKS is no longer trusted and calls
    /// fail with UNAVAILABLE.
    #[arg(long, env = "MESH_JWKS_MAX_STALENESS", default_value = "1h", value_parser = parse_duration)]
    pub jwks_max_staleness: Duration,

    /// How often auth's revocation feed is polled: a revoked token stops
    /// working here within about this long.
    #[arg(long, env = "MESH_REVOCATION_POLL_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub revocation_poll_interval: Duration,

    /// Age after which the last answer of the revocation feed is no longer
    /// trusted and calls fail with UNAVAILABLE. It bounds how long a
    /// revocation can go unseen while auth is unreachable.
    #[arg(long, env = "MESH_REVOCATION_MAX_STALENESS", default_value = "30s", value_parser = parse_duration)]
    pub revocation_max_staleness: Duration,

    /// Which token upstream calls carry: one exchanged at auth for each
    /// upstream's audience (narrowed, with an `act` claim naming this
    /// workload), or the caller's own, unchanged.
    #[arg(long, env = "MESH_TOKEN_MODE", value_enum, default_value_t = TokenModeArg::Exchange)]
    pub token_mode: TokenModeArg,
}

/// `--token-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenModeArg {
    /// Forward the caller's token unchanged.
    Propagate,
    /// Exchange it at auth (RFC 8693) for a token narrowed to the upstream.
    Exchange,
}

impl Default for JwtArgs {
    fn default() -> Self {
        Self {
            issuer: "https://127.0.0.1:8443".to_owned(),
            audience: None,
            jwt_algorithms: vec![
                jsonwebtoken::Algorithm::ES256,
                jsonwebtoken::Algorithm::RS256,
                jsonwebtoken::Algorithm::EdDSA,
            ],
            jwt_skew: Duration::from_secs(30),
            token_cache_size: 10_000,
            auth_addr: "127.0.0.1:7001".to_owned(),
            jwks_refresh_interval: Duration::from_secs(300),
            jwks_min_refresh_interval: Duration::from_secs(10),
            jwks_max_staleness: Duration::from_secs(3600),
            revocation_poll_interval: Duration::from_secs(1),
            revocation_max_staleness: Duration::from_secs(30),
            token_mode: TokenModeArg::Exchange,
        }
    }
}

/// Parses an asymmetric JWS algorithm name; HMAC is refused outright.
pub fn parse_algorithm(s: &str) -> Result<jsonwebtoken::Algorithm, String> {
    if !crate::jwt::ASYMMETRIC_ALGORITHMS.contains(&s) {
        return Err(format!(
            "'{s}' is not an accepted algorithm; choose from {}",
            crate::jwt::ASYMMETRIC_ALGORITHMS.join(", ")
        ));
    }
    s.parse().map_err(|e| format!("{e}"))
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// Parses a workload name (the last segment of a SPIFFE ID), such as
/// `loadgen`. Empty is accepted and means none (`MESH_LOAD_TEST_PEERS=`).
pub fn parse_workload_name(s: &str) -> Result<String, String> {
    let valid = s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_".contains(&b));
    if valid {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "'{s}' is not a workload name: up to 64 lowercase letters, digits, '-' or '_'"
        ))
    }
}

/// Parses `250ms`, `10s`, `5m`, `1h` (and combinations) into a duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 250ms, 10s, 5m)"))?;
    if d.is_zero() {
        return Err("must be greater than zero".to_owned());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        server: ServerArgs,
    }

    fn peers(args: &[&str]) -> Result<Vec<String>, clap::Error> {
        let argv = std::iter::once("workload").chain(args.iter().copied());
        Cli::try_parse_from(argv).map(|cli| cli.server.load_test_peers)
    }

    #[test]
    fn load_testing_is_off_unless_named_peers_switch_it_on() {
        assert_eq!(peers(&[]).expect("parses"), Vec::<String>::new());
        let on = peers(&["--load-test-peer", "loadgen", "--load-test-peer", "a,b"]);
        assert_eq!(on.expect("parses"), ["loadgen", "a", "b"]);
        let bad = peers(&["--load-test-peer", "spiffe://mesh.local/loadgen"]);
        assert!(
            bad.expect_err("not a name")
                .to_string()
                .contains("--load-test-peer")
        );
    }
}
