//! The flags of `meshctl load`, checked once into a [`Plan`] before
//! anything touches the network, each refusal naming the flag at fault.

use std::time::Duration;

use anyhow::{bail, ensure};
use clap::{Args, ValueEnum};
use mesh::TrustDomain;

use super::engine::{Mode, Schedule};
use crate::client::StackArgs;

/// The longest run (and warm-up) allowed: a load test always ends.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(3600);

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Scenario {
    /// accounts.v1.Accounts/GetAccount over gRPC through the gateway.
    Read,
    /// orders.v1.Orders/CreateOrder over gRPC through the gateway.
    OrderGrpc,
    /// POST /v1/orders (REST/JSON) through the gateway.
    OrderRest,
    /// GetAccount straight to a service (--target) over mutual TLS as
    /// `loadgen`; the stack must run with load testing on (`meshctl up --load-test`).
    Direct,
    /// Forged, expired and over-quota calls through the gateway.
    Abuse,
}

impl Scenario {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::OrderGrpc => "order-grpc",
            Self::OrderRest => "order-rest",
            Self::Direct => "direct",
            Self::Abuse => "abuse",
        }
    }
}

/// Flags of `meshctl load`.
#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    #[command(flatten)]
    pub(crate) stack: StackArgs,

    /// What to send.
    #[arg(long, value_enum)]
    pub(crate) scenario: Scenario,

    /// Direct scenario: the service's mutual-TLS address [default: 127.0.0.1:7004, accounts].
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) target: Option<String>,

    /// Direct scenario: h2c without TLS (a baseline against a security-off server).
    #[arg(long)]
    pub(crate) plaintext: bool,

    /// Direct scenario: send no bearer token (mTLS-only baseline).
    #[arg(long, conflicts_with = "token")]
    pub(crate) no_token: bool,

    /// Direct scenario: send this bearer token instead of getting one from auth.
    #[arg(long, env = "MESHCTL_LOAD_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,

    /// Use this account instead of opening and funding one (skips the setup).
    #[arg(long, value_name = "ID")]
    pub(crate) account: Option<String>,

    /// Open loop: requests per second, at a constant arrival rate [default: 100].
    #[arg(long, conflicts_with = "closed")]
    pub(crate) rate: Option<f64>,

    /// Closed loop: --concurrency workers, each sending back to back.
    #[arg(long)]
    pub(crate) closed: bool,

    /// Most requests in flight (open loop) or workers (closed loop) [default: 1000 open, 16 closed].
    /// Open loop: a request still waiting for a slot a --timeout after the run is never sent (NOT_SENT).
    #[arg(long)]
    pub(crate) concurrency: Option<usize>,

    /// HTTP/2 connections to spread the requests over.
    #[arg(long, default_value_t = 4)]
    pub(crate) connections: usize,

    /// How long to measure (at most 1h); the run ends at this or --requests, whichever comes first.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) duration: Duration,

    /// How many requests to measure.
    #[arg(long)]
    pub(crate) requests: Option<u64>,

    /// Send for this long first without recording.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub(crate) warmup: Duration,

    /// Give up on one request after this long (counted as CLIENT_TIMEOUT).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) timeout: Duration,

    /// The mesh's trust domain (the direct scenario checks the server's SPIFFE ID).
    #[arg(long, env = "MESH_TRUST_DOMAIN", default_value = "mesh.local")]
    pub(crate) trust_domain: TrustDomain,

    /// Print the report as JSON on stdout (the human report goes to stderr).
    #[arg(long)]
    pub(crate) json: bool,

    /// Also write a self-contained HTML report to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<std::path::PathBuf>,
}

/// Default open-loop rate, requests per second.
const DEFAULT_RATE: f64 = 100.0;

impl LoadArgs {
    /// The run's schedule, or the first flag that makes no sense.
    pub(crate) fn schedule(&self) -> anyhow::Result<Schedule> {
        if self.scenario != Scenario::Direct {
            let scenario = self.scenario.name();
            for (set, flag) in [
                (self.plaintext, "--plaintext"),
                (self.no_token, "--no-token"),
                (self.token.is_some(), "--token"),
                (self.target.is_some(), "--target"),
            ] {
                if set {
                    bail!(
                        "{flag} only applies to --scenario direct; --scenario {scenario} goes through the gateway, which always speaks TLS and needs a token from auth"
                    );
                }
            }
        }
        let bounded = |flag: &str, d: Duration, zero_ok: bool| {
            ensure!(
                (zero_ok || !d.is_zero()) && d <= MAX_DURATION,
                "{flag} {}: must be {}at most 1h; a load run is always bounded in time",
                humantime::format_duration(d),
                if zero_ok { "" } else { "more than 0 and " },
            );
            Ok(())
        };
        bounded("--duration", self.duration, false)?;
        bounded("--warmup", self.warmup, true)?;
        bounded("--timeout", self.timeout, false)?;
        ensure!(
            self.requests != Some(0),
            "--requests 0: must be at least 1 (or leave it out to run for --duration)"
        );
        ensure!(
            self.connections > 0,
            "--connections 0: need at least one connection"
        );
        let mode = if self.closed {
            Mode::Closed
        } else {
            let rate = self.rate.unwrap_or(DEFAULT_RATE);
            ensure!(
                rate.is_finite() && rate >= 0.01,
                "--rate {rate}: must be a positive number of requests per second (for example --rate 500)"
            );
            Mode::Open { rate }
        };
        let workers = self
            .concurrency
            .unwrap_or(if self.closed { 16 } else { 1000 });
        ensure!(
            workers > 0,
            "--concurrency 0: need at least one request in flight"
        );
        ensure!(
            workers <= 100_000,
            "--concurrency {workers}: at most 100000"
        );
        Ok(Schedule {
            mode,
            workers,
            warmup: self.warmup,
            duration: self.duration,
            requests: self.requests,
            timeout: self.timeout,
        })
    }

    /// The direct scenario's target address.
    pub(crate) fn target_addr(&self) -> &str {
        self.target.as_deref().unwrap_or("127.0.0.1:7004")
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        load: LoadArgs,
    }

    fn schedule(args: &[&str]) -> anyhow::Result<Schedule> {
        let cli = Cli::try_parse_from(std::iter::once("load").chain(args.iter().copied()))?;
        cli.load.schedule()
    }

    fn refusal(args: &[&str]) -> String {
        format!("{:#}", schedule(args).expect_err("must be refused"))
    }

    #[test]
    fn defaults_are_an_open_loop_of_ten_seconds() {
        let s = schedule(&["--scenario", "read"]).expect("valid");
        assert_eq!(s.mode, Mode::Open { rate: 100.0 });
        assert_eq!((s.workers, s.duration), (1000, Duration::from_secs(10)));
        let s = schedule(&["--scenario", "direct", "--closed", "--requests", "5"]).expect("valid");
        assert_eq!((s.mode, s.workers, s.requests), (Mode::Closed, 16, Some(5)));
    }

    #[test]
    fn bad_flags_are_named() {
        assert!(refusal(&["--scenario", "read", "--rate", "0"]).contains("--rate"));
        assert!(refusal(&["--scenario", "read", "--duration", "0s"]).contains("--duration"));
        assert!(refusal(&["--scenario", "read", "--duration", "2h"]).contains("--duration"));
        assert!(refusal(&["--scenario", "read", "--requests", "0"]).contains("--requests"));
        assert!(refusal(&["--scenario", "read", "--concurrency", "0"]).contains("--concurrency"));
        assert!(refusal(&["--scenario", "abuse", "--plaintext"]).contains("--plaintext"));
        assert!(refusal(&["--scenario", "read", "--target", "x:1"]).contains("--target"));
        assert!(refusal(&["--scenario", "read", "--closed", "--rate", "5"]).contains("--rate"));
    }
}
