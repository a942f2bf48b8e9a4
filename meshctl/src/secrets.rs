//! `meshctl secrets rotate`: rotates an OAuth client's secret without
//! downtime, through auth's admin API (an ADMIN token of a demo admin,
//! `ada` by default, never by editing files on auth's side).
//!
//! 1. `meshctl secrets rotate --client NAME [--grace 24h]`: auth issues a
//!    new secret and keeps the old one valid for the grace period. The new
//!    secret is printed once and written into the demo credentials file
//!    (which always holds the current secret), so `meshctl load`, `token`
//!    and `up` use it from then on.
//! 2. Every instance of the client switches to the new secret; auth's
//!    `mesh_client_secret_used_total{client,generation="previous"}` shows
//!    when the old one stops being used.
//! 3. `meshctl secrets rotate --client NAME --finish` retires the old
//!    secret at once (or let the grace period end).

use std::{path::Path, time::Duration};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::Deserialize;

use crate::client::{StackArgs, StackFile, Subject, error_text};

/// auth's HTTPS port when no stack record says otherwise.
const DEFAULT_AUTH: &str = "https://127.0.0.1:7443";

/// Flags of `meshctl secrets`.
#[derive(Debug, Args)]
pub(crate) struct SecretsArgs {
    #[command(subcommand)]
    command: SecretsCommand,
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Give an OAuth client a new secret, keeping the old one valid for a grace period.
    Rotate(RotateArgs),
}

/// Flags of `meshctl secrets rotate`.
#[derive(Debug, Args)]
struct RotateArgs {
    #[command(flatten)]
    stack: StackArgs,

    /// The OAuth client whose secret changes (for example `loadgen`).
    #[arg(long)]
    client: String,

    /// How long the old secret keeps working (at most 30 days).
    #[arg(long, default_value = "24h", value_parser = mesh::config::parse_duration)]
    grace: Duration,

    /// Retire the old secret now, ending a rotation before its grace period.
    #[arg(long)]
    finish: bool,

    /// auth's HTTPS URL (the admin API). Default: the one `meshctl up`
    /// recorded in the data directory, else https://127.0.0.1:7443.
    #[arg(long, env = "MESHCTL_AUTH")]
    auth: Option<String>,

    /// The demo user (role ADMIN) whose token authorizes the change.
    #[arg(long, default_value = "ada")]
    admin: String,
}

/// auth's answer to a rotation.
#[derive(Deserialize)]
struct NewSecret {
    client_secret: String,
    previous_valid_until: i64,
}

pub(crate) async fn run(args: &SecretsArgs) -> anyhow::Result<()> {
    let SecretsCommand::Rotate(args) = &args.command;
    let client = &args.client;
    let valid = (1..=64).contains(&client.len())
        && client
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !valid {
        bail!("--client '{client}': not a client id (1 to 64 letters, digits, '.', '_', '-')");
    }
    let gateway = args.stack.connect()?;
    let token = gateway
        .token(
            &Subject::User(args.admin.clone()),
            Some("admin"),
            Some("auth"),
        )
        .await
        .with_context(|| format!("an admin token for '{}'", args.admin))?;
    let auth = auth_url(args)?;
    let path = if args.finish {
        format!("{auth}/admin/clients/{client}/secret/finish")
    } else {
        format!("{auth}/admin/clients/{client}/secret")
    };
    let grace = args.grace.as_secs().to_string();
    let response = gateway
        .http
        .post(&path)
        .bearer_auth(&token.access_token)
        .form(&[("grace_seconds", grace.as_str())])
        .send()
        .await
        .with_context(|| format!("POST {path}: is auth running?"))?;
    let status = response.status();
    let body = response.text().await.context("read auth's answer")?;
    if !status.is_success() {
        bail!("POST {path}: {status}: {}", error_text(&body));
    }
    if args.finish {
        let retired = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["previous_retired"].as_bool())
            .unwrap_or(false);
        if retired {
            println!("The previous secret of '{client}' no longer works.");
        } else {
            println!("'{client}' had no previous secret to retire.");
        }
        return Ok(());
    }
    let new: NewSecret =
        serde_json::from_str(&body).with_context(|| format!("POST {path}: not a new secret"))?;
    // Shown before anything else can fail: auth has switched already.
    println!(
        "New secret of '{client}' (shown once): {}",
        new.client_secret
    );
    let file = args.stack.credentials_path();
    update_credentials(&file, client, &new.client_secret).context(
        "the new secret above is valid, but the credentials file still holds the old one",
    )?;
    println!(
        "The old one works until {} (Unix time); {} now holds the new one.",
        new.previous_valid_until,
        file.display()
    );
    println!(
        "Watch mesh_client_secret_used_total{{client=\"{client}\",generation=\"previous\"}} \
         on auth's /metrics fall to no increase, then finish early with --finish."
    );
    Ok(())
}

/// auth's HTTPS base URL.
fn auth_url(args: &RotateArgs) -> anyhow::Result<String> {
    let url = match &args.auth {
        Some(url) => url.clone(),
        None => StackFile::read(&args.stack.data_dir)?
            .and_then(|stack| stack.processes.into_iter().find(|p| p.name == "auth"))
            .and_then(|auth| auth.https)
            .unwrap_or_else(|| DEFAULT_AUTH.to_owned()),
    };
    Ok(url.trim_end_matches('/').to_owned())
}

/// Writes `secret` as `client`'s in the demo credentials file `path`,
/// keeping everything else, through a private temporary file and a rename.
fn update_credentials(path: &Path, client: &str, secret: &str) -> anyhow::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};

    let bytes = std::fs::read(path)
        .with_context(|| format!("--credentials {}: cannot read", path.display()))?;
    let mut document: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("--credentials {}: not a credentials file", path.display()))?;
    document["clients"][client] = secret.into();
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(&serde_json::to_vec_pretty(&document)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}
