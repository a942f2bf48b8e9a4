//! The target of the security-cost benchmark (`bench/run.sh`, issue #9).
//!
//! `bench-target serve --mode M` answers `accounts.v1.Accounts/GetAccount`
//! from memory with one fixed account, in one of four modes that run the
//! same handler and differ only in security:
//!
//! | mode | transport | peer identity + policy | JWT |
//! |---|---|---|---|
//! | `plaintext` | h2c, no TLS | none | none |
//! | `mtls` | the kit's mutual TLS | yes (`gateway`, `loadgen`) | none |
//! | `mtls-jwt-uncached` | the kit's mutual TLS | yes | verified on every call |
//! | `mtls-jwt` | the kit's mutual TLS | yes | verified-token cache |
//!
//! The three mTLS modes are the `mesh` kit exactly as the `accounts`
//! workload uses it (`accounts.pem`, `Server::start`, the policy layer,
//! `JwtLayer` with keys from the real auth); "uncached" only sets the
//! kit's `--token-cache-size` to 0. Every mode, plaintext included, counts,
//! times and traces each RPC with the kit's `RpcLayer`, so the ratios
//! measure security and nothing else.
//!
//! **Plaintext exists only here.** No production binary has a flag that
//! turns TLS, identity or token checks off; this crate is `publish = false`,
//! and the Dockerfile does not build or ship it. Every mode logs the kit's
//! JSON `serving` line (`grpc` = the bound address) so a script can find it.
//!
//! `bench-target frame ID` writes one gRPC-framed `GetAccountRequest`, the
//! request body `h2load -d` sends.

pub mod frame;
mod handler;
pub mod plaintext;

use clap::{Parser, Subcommand, ValueEnum};
use mesh::{Policy, Rule};
use mesh_proto::accounts::v1::accounts_server::{AccountsServer, SERVICE_NAME};

pub use handler::{BENCH_ACCOUNT_ID, BenchAccounts};

/// Command line of `bench-target`.
#[derive(Debug, Parser)]
#[command(
    name = "bench-target",
    version,
    about = "Benchmark-only accounts read path, served in one security mode (never deployed)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What `bench-target` does.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve GetAccount in one security mode until SIGTERM or Ctrl-C.
    Serve(Box<ServeArgs>),
    /// Write one gRPC-framed GetAccountRequest for `account_id` to stdout.
    Frame {
        /// The account to ask for.
        #[arg(default_value = BENCH_ACCOUNT_ID)]
        account_id: String,
    },
}

/// Flags of `bench-target serve`: the kit's own, plus the mode.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Which security the benchmark measures.
    #[arg(long, value_enum)]
    pub mode: Mode,
    #[command(flatten)]
    pub mesh: mesh::ServerArgs,
}

/// The security layers turned on, one step at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// h2c with no TLS, no identity, no policy, no token: the baseline.
    Plaintext,
    /// Mutual TLS, workload identity and the policy table; no token.
    Mtls,
    /// As `mtls-jwt`, with the verified-token cache off.
    MtlsJwtUncached,
    /// Mutual TLS, identity, policy and JWT with the verified-token cache.
    MtlsJwt,
}

impl Mode {
    /// The policy table of this mode: the GetAccount rule of the
    /// `accounts` workload (its public peers, `accounts:read`), without
    /// the token part when the mode checks none.
    pub fn policy(self) -> Policy {
        let rule = Rule::peers(["gateway", "loadgen"]);
        let rule = match self {
            Self::Plaintext | Self::Mtls => rule.no_token(),
            Self::MtlsJwtUncached | Self::MtlsJwt => rule.scopes(["accounts:read"]),
        };
        Policy::new().rpc(SERVICE_NAME, "GetAccount", rule)
    }

    /// Adjusts the kit's flags to the mode: the uncached mode turns the
    /// verified-token cache off; the others keep what was configured.
    pub fn apply(self, args: &mut mesh::ServerArgs) {
        if self == Self::MtlsJwtUncached {
            args.jwt.token_cache_size = 0;
        }
    }
}

/// The target in one mode, bound, not yet serving.
#[derive(Debug)]
pub enum Target {
    /// The h2c baseline.
    Plaintext(plaintext::Plaintext),
    /// One of the kit's mutual-TLS modes.
    Secure(Box<mesh::Server>, Mode),
}

impl Target {
    /// Sets up logging, checks the flags and files, and binds the ports.
    pub async fn start(args: ServeArgs) -> anyhow::Result<Self> {
        let ServeArgs { mode, mut mesh } = args;
        mode.apply(&mut mesh);
        let target = if mode == Mode::Plaintext {
            Self::Plaintext(plaintext::Plaintext::start(&mesh).await?)
        } else {
            let server = mesh::Server::start(mesh::ACCOUNTS, mesh).await?;
            Self::Secure(Box::new(server), mode)
        };
        // What a script needs besides the address: the one account served.
        tracing::info!(?mode, account_id = BENCH_ACCOUNT_ID, "bench target");
        Ok(target)
    }

    /// Where the gRPC port listens.
    pub fn grpc_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        match self {
            Self::Plaintext(server) => server.local_addr(),
            Self::Secure(server, _) => Ok(server.grpc_addr()),
        }
    }

    /// Serves GetAccount until `shutdown` completes.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let service = AccountsServer::new(BenchAccounts);
        match self {
            Self::Plaintext(server) => {
                server
                    .serve(service, Mode::Plaintext.policy(), shutdown)
                    .await
            }
            Self::Secure(server, mode) => {
                let grpc = server.grpc(mode.policy()).add_service(service);
                server.serve(grpc, shutdown).await?;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mesh_args(extra: &[&str]) -> mesh::ServerArgs {
        let cli = Cli::parse_from(
            ["bench-target", "serve", "--mode", "mtls-jwt"]
                .into_iter()
                .chain(extra.iter().copied()),
        );
        match cli.command {
            Command::Serve(args) => args.mesh,
            Command::Frame { .. } => unreachable!("parsed serve"),
        }
    }

    #[test]
    fn only_the_jwt_modes_need_tokens() {
        assert!(!Mode::Plaintext.policy().needs_tokens());
        assert!(!Mode::Mtls.policy().needs_tokens());
        assert!(Mode::MtlsJwtUncached.policy().needs_tokens());
        assert!(Mode::MtlsJwt.policy().needs_tokens());
    }

    #[test]
    fn every_mode_guards_get_account_and_nothing_else() {
        let path = format!("/{SERVICE_NAME}/GetAccount");
        for mode in Mode::value_variants() {
            let policy = mode.policy();
            assert!(policy.rule(&path).is_some(), "{mode:?}");
            assert!(policy.rule(&format!("/{SERVICE_NAME}/Debit")).is_none());
        }
    }

    #[test]
    fn uncached_turns_the_token_cache_off_and_cached_keeps_the_flag() {
        let mut args = mesh_args(&["--token-cache-size", "500"]);
        Mode::MtlsJwt.apply(&mut args);
        assert_eq!(args.jwt.token_cache_size, 500);
        Mode::MtlsJwtUncached.apply(&mut args);
        assert_eq!(args.jwt.token_cache_size, 0);
    }
}
