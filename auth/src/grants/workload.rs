//! A workload's own token, for work no user is waiting on (resuming an
//! interrupted order, finishing a recorded charge). The client is the
//! workload itself, authenticated by its mutual-TLS certificate (as with
//! RFC 8705 client authentication), so no secret is configured for it.
//!
//! The token names the workload's SPIFFE ID as `sub`, carries no roles and
//! only the scopes the config grants that workload, and is addressed to the
//! workload itself plus the audiences it may exchange for: the kit
//! exchanges it per hop like any caller's token.

use mesh::PeerId;

use crate::{
    authority::Authority,
    error::Error,
    grants::{TokenResponse, grant_scope},
    tokens::TokenSpec,
};

/// Issues workload `caller` a token of its own.
pub(crate) fn grant(
    auth: &Authority,
    caller: &PeerId,
    scope: Option<&str>,
    now: i64,
) -> Result<TokenResponse, Error> {
    let workload = caller.workload();
    let allowed = auth.directory.workload_scope(workload).ok_or_else(|| {
        Error::UnauthorizedClient("this workload may not have a token of its own".into())
    })?;
    let scope = grant_scope(scope, allowed)?;
    let mut aud = vec![workload.to_owned()];
    if let Some(exchange) = auth.directory.exchange_audiences(workload) {
        aud.extend(exchange.iter().filter(|a| a.as_str() != workload).cloned());
    }
    let spec = TokenSpec {
        sub: caller.spiffe_id().to_string(),
        aud,
        client_id: workload.to_owned(),
        scope,
        roles: Vec::new(),
        act: None,
        expires_by: None,
        root_jti: None,
    };
    let issued = auth.tokens.issue(spec, now)?;
    // Not an OAuth grant_type: labelled by what it is.
    auth.metrics.token_issued("workload");
    Ok(TokenResponse::bearer(issued, now))
}
