//! Before the clock starts: the `loadgen` client opens its own account
//! through the gateway, and maria (a MANAGER: deposits need one) funds it
//! for every order the run could place. Skipped with `--account`.

use anyhow::Context as _;
use serde_json::json;

use crate::client::{Gateway, Subject};

/// Opens an account as the holder of `loadgen_token` and deposits
/// `amount_minor` into it; returns its id.
pub(crate) async fn funded_account(
    gateway: &Gateway,
    loadgen_token: &str,
    amount_minor: i64,
    run: &str,
) -> anyhow::Result<String> {
    let account = gateway
        .post_json("/v1/accounts", loadgen_token, &json!({"currency": "EUR"}))
        .await
        .context("open the load test's account (or pass --account ID)")?;
    let id = account["accountId"]
        .as_str()
        .context("the gateway answered an account without accountId")?
        .to_owned();
    let maria = gateway
        .token(&Subject::User("maria".to_owned()), None, None)
        .await
        .context("a MANAGER token (maria) to fund the account")?;
    gateway
        .post_json(
            &format!("/v1/accounts/{id}:deposit"),
            &maria.access_token,
            &json!({
                "amountMinor": amount_minor.to_string(),
                "currency": "EUR",
                "idempotencyKey": format!("load-{run}-deposit"),
            }),
        )
        .await
        .with_context(|| format!("fund account {id} (or pass --account ID)"))?;
    Ok(id)
}
