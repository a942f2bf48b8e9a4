//! Before the clock starts: the `loadgen` client opens its own account
//! through the gateway, and maria (a MANAGER: deposits need one) funds it
//! for every order the run could place. Skipped with `--account`.

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::client::{Gateway, Subject, error_text};

/// Opens an account as the holder of `loadgen_token` and deposits
/// `amount_minor` into it; returns its id.
pub(crate) async fn funded_account(
    gateway: &Gateway,
    loadgen_token: &str,
    amount_minor: i64,
    run: &str,
) -> anyhow::Result<String> {
    let account = post(
        gateway,
        "/v1/accounts",
        loadgen_token,
        &json!({"currency": "EUR"}),
    )
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
    post(
        gateway,
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

async fn post(gateway: &Gateway, path: &str, token: &str, body: &Value) -> anyhow::Result<Value> {
    let url = gateway.url(path);
    let response = gateway
        .http
        .post(&url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .with_context(|| format!("POST {url}: is the stack running (`meshctl up`)?"))?;
    let status = response.status();
    let text = response.text().await.context("read the answer")?;
    if !status.is_success() {
        bail!("POST {url}: {status}: {}", error_text(&text));
    }
    serde_json::from_str(&text).with_context(|| format!("POST {url}: the answer is not JSON"))
}
