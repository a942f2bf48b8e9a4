//! `meshctl token`: an access token for a demo user (password grant through
//! the `meshctl` client) or a demo client (`client_credentials`), from a
//! running stack. Prints just the token, so `TOKEN=$(meshctl token --user alice)`
//! works; `--json` prints the whole token response.

use anyhow::bail;
use clap::Args;

use crate::client::{StackArgs, Subject};

/// Flags of `meshctl token`.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    #[command(flatten)]
    stack: StackArgs,

    /// A demo user (alice, bob: USER; maria: MANAGER; ada: ADMIN).
    #[arg(long, conflicts_with = "client")]
    user: Option<String>,

    /// A demo OAuth client (for example `loadgen`), with its own secret.
    #[arg(long)]
    client: Option<String>,

    /// Space-separated scopes to ask for (default: all the subject may have).
    #[arg(long)]
    scope: Option<String>,

    /// The audience to ask for (default: the client's, usually `gateway`).
    #[arg(long)]
    audience: Option<String>,

    /// Print the whole token response as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: &TokenArgs) -> anyhow::Result<()> {
    let subject = match (&args.user, &args.client) {
        (Some(user), None) => Subject::User(user.clone()),
        (None, Some(client)) => Subject::Client(client.clone()),
        _ => bail!("say whose token: --user NAME (for example alice) or --client NAME"),
    };
    let gateway = args.stack.connect()?;
    let token = gateway
        .token(&subject, args.scope.as_deref(), args.audience.as_deref())
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&token)?);
    } else {
        println!("{}", token.access_token);
    }
    Ok(())
}
