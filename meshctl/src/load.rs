//! `meshctl load`: load-tests a running stack, through the gateway (gRPC
//! or REST) or straight to a service over mutual TLS, and reports
//! throughput, latency percentiles, errors by status and the client's own
//! CPU cost, as text, JSON and an HTML page.
//!
//! The parts, in the order a run uses them: [`args`] checks the flags into
//! a schedule; [`connect`], [`tokens`] and [`setup`] get connections, a
//! token that stays fresh, and a funded account; [`target`], [`grpc`],
//! [`rest`] and [`abuse`] build and send the scenario's requests;
//! [`engine`] schedules them while [`outcome`], [`record`] and
//! [`progress`] keep the numbers; [`report`], [`text`] and [`html`]
//! present them.

mod abuse;
mod args;
mod connect;
mod engine;
mod grpc;
mod html;
mod outcome;
mod progress;
mod record;
mod report;
mod rest;
mod setup;
mod target;
mod text;
mod tokens;

use std::{io::IsTerminal as _, sync::Arc, time::Duration};

use anyhow::Context as _;
use tokio::{sync::oneshot, time::Instant};

pub(crate) use args::LoadArgs;
use args::Scenario;
use connect::Dialer;
use engine::{Mode, Schedule};
use grpc::GrpcCall;
use record::Recorder;
use report::{Parts, Report};
use target::{GrpcBody, OrderTemplate, Target};
use tokens::Tokens;

use crate::client::{Gateway, Subject};

/// Time allowed for getting tokens and the account before the run.
const SETUP_ALLOWANCE: Duration = Duration::from_secs(60);

/// Runs one load test and prints its report.
pub(crate) async fn run(args: &LoadArgs) -> anyhow::Result<()> {
    let schedule = args.schedule()?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let direct = args.scenario == Scenario::Direct;

    // Files first, so a bad path fails before anything touches the network.
    let dialer = Arc::new(match (direct, args.plaintext) {
        (true, true) => Dialer::plain(args.target_addr())?,
        (true, false) => Dialer::mesh(
            args.target_addr(),
            &args.stack.data_dir.join("certs"),
            &args.stack.ca_path(),
            &args.trust_domain,
        )?,
        (false, _) => Dialer::gateway(&args.stack.gateway_url()?, &args.stack.ca_path())?,
    });
    if let Some(path) = &args.html {
        std::fs::write(path, "")
            .with_context(|| format!("--html {}: cannot write the report there", path.display()))?;
    }
    let own_token = !direct || (args.token.is_none() && !args.no_token);
    let gateway = (own_token || args.account.is_none())
        .then(|| args.stack.connect())
        .transpose()?;
    let until = Instant::now() + SETUP_ALLOWANCE + schedule.longest();

    let mut refreshers = Vec::new();
    let tokens = if args.no_token {
        None
    } else if let Some(token) = &args.token {
        Some(Tokens::fixed(token)?)
    } else {
        let audience = direct.then_some("accounts");
        let (tokens, refresher) =
            Tokens::from_auth(need(&gateway)?, loadgen(), audience, until).await?;
        refreshers.push(refresher);
        Some(tokens)
    };
    let account = match &args.account {
        Some(id) => id.clone(),
        None => {
            let gateway = need(&gateway)?;
            // The account is opened at the gateway: a token addressed to it.
            let token = match (&tokens, direct) {
                (Some(tokens), false) => tokens.raw().as_str().to_owned(),
                _ => gateway.token(&loadgen(), None, None).await?.access_token,
            };
            setup::funded_account(gateway, &token, deposit(&schedule), &run_id).await?
        }
    };

    let k = args.connections;
    let grpc = |path: &'static str, body: GrpcBody, tokens: Option<Tokens>| {
        GrpcCall::connect(dialer.clone(), k, path, body, tokens)
    };
    let get_account = GrpcBody::get_account(&account);
    let order = OrderTemplate::new(&account, &run_id);
    let target = match args.scenario {
        Scenario::Read | Scenario::Direct => {
            Target::Grpc(grpc(target::GET_ACCOUNT, get_account, tokens).await?)
        }
        Scenario::OrderGrpc => {
            Target::Grpc(grpc(target::CREATE_ORDER, GrpcBody::Order(order), tokens).await?)
        }
        Scenario::OrderRest => {
            let tokens = tokens.context("the REST scenario needs a token")?;
            let base = args.stack.gateway_url()?;
            Target::Rest(rest::RestCall::connect(dialer.clone(), &base, k, order, tokens).await?)
        }
        Scenario::Abuse => {
            let tokens = tokens.context("the abuse scenario needs a token")?;
            let real = tokens.raw();
            let call = grpc(target::GET_ACCOUNT, get_account, Some(tokens)).await?;
            Target::Abuse(abuse::Abuse::new(call, &real)?)
        }
    };

    let shards = std::thread::available_parallelism().map_or(4, |n| n.get() * 4);
    let recorder = Arc::new(Recorder::new(shards.min(schedule.workers)));
    let visible = !args.json && std::io::stderr().is_terminal();
    let bar = progress::Progress::new(visible, (schedule.warmup + schedule.duration).as_secs());
    // A moment's lead lets every worker be waiting when the first request is due.
    let t0 = Instant::now() + Duration::from_millis(10);
    let (done, finished) = oneshot::channel();
    let collector = tokio::spawn(progress::collect(
        recorder.clone(),
        t0 + schedule.warmup,
        schedule.warmup,
        bar,
        finished,
    ));
    let cpu_before = report::cpu_now();
    let ran = engine::drive(Arc::new(target), &schedule, recorder.clone(), t0).await;
    let cpu_after = report::cpu_now();
    let _ = done.send(());
    let (series, bar) = collector.await.context("the collector task failed")?;
    bar.finish();
    for refresher in refreshers {
        refresher.abort();
    }

    let report = Report::new(
        Parts {
            scenario: args.scenario.name(),
            target: dialer.addr().to_owned(),
            rate: match schedule.mode {
                Mode::Open { rate } => Some(rate),
                Mode::Closed => None,
            },
            concurrency: schedule.workers,
            connections: k,
            intended: schedule.planned().map(|(_, measured)| measured),
            elapsed: ran.elapsed,
            cpu: (
                cpu_after.0.saturating_sub(cpu_before.0),
                cpu_after.1.saturating_sub(cpu_before.1),
            ),
            series,
        },
        &recorder.totals(),
    );
    let human = text::human(&report);
    if args.json {
        eprint!("{human}");
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{human}");
    }
    if let Some(path) = &args.html {
        std::fs::write(path, html::page(&report))
            .with_context(|| format!("--html {}: cannot write the report", path.display()))?;
    }
    Ok(())
}

fn loadgen() -> Subject {
    Subject::Client("loadgen".to_owned())
}

fn need(gateway: &Option<Gateway>) -> anyhow::Result<&Gateway> {
    gateway
        .as_ref()
        .context("this run needs the gateway (for a token or the setup)")
}

/// Enough money for every order the run could place, warm-up included.
fn deposit(schedule: &Schedule) -> i64 {
    /// A generous ceiling on closed-loop throughput, for the estimate.
    const MAX_RATE: u64 = 100_000;
    let orders = match schedule.planned() {
        Some((warm, measured)) => warm + measured,
        None => {
            let secs = (schedule.warmup + schedule.duration).as_secs() + 1;
            schedule.requests.unwrap_or(u64::MAX).min(secs * MAX_RATE)
                + schedule.warmup.as_secs() * MAX_RATE
        }
    };
    let orders = i64::try_from(orders).unwrap_or(i64::MAX / 2);
    orders
        .saturating_mul(target::ORDER_PRICE_MINOR)
        .saturating_add(1_000)
}
