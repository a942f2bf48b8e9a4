//! `meshctl status`: the workloads of the stack `meshctl up` runs in a data
//! directory, from its stack record: each one's pid, whether that process
//! is alive, its uptime, how often it was restarted, and whether its
//! `/readyz` answers.

use std::{path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use clap::Args;
use serde::Serialize;

use crate::client::StackFile;

/// Flags of `meshctl status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The directory `meshctl up` keeps its state in.
    #[arg(long, env = "MESH_DATA_DIR", default_value = ".mesh")]
    data_dir: PathBuf,

    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// One workload as seen now.
#[derive(Debug, Serialize)]
struct Row {
    name: String,
    pid: u32,
    alive: bool,
    uptime_s: u64,
    restarts: u32,
    ready: bool,
}

pub(crate) async fn run(args: &StatusArgs) -> anyhow::Result<()> {
    let Some(stack) = StackFile::read(&args.data_dir)? else {
        bail!(
            "no stack runs with data directory {} (start one with `meshctl up`)",
            args.data_dir.display()
        );
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .context("HTTP client")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut rows = Vec::new();
    for process in &stack.processes {
        let readyz = process.metrics.replace("/metrics", "/readyz");
        let ready = http
            .get(&readyz)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        rows.push(Row {
            name: process.name.clone(),
            pid: process.pid,
            alive: std::path::Path::new(&format!("/proc/{}", process.pid)).exists(),
            uptime_s: now.saturating_sub(process.started_at),
            restarts: process.restarts,
            ready,
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!("gateway {}", stack.gateway);
    println!(
        "{:<10} {:>8} {:>6} {:>10} {:>9} {:>6}",
        "workload", "pid", "alive", "uptime", "restarts", "ready"
    );
    for row in &rows {
        println!(
            "{:<10} {:>8} {:>6} {:>9}s {:>9} {:>6}",
            row.name, row.pid, row.alive, row.uptime_s, row.restarts, row.ready
        );
    }
    Ok(())
}
