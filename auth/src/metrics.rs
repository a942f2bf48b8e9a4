//! The auth service's own metric, `mesh_tokens_issued_total{grant_type}`,
//! next to the shared security metrics of the kit.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};

/// A label set of one `grant_type`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabel {
    grant_type: &'static str,
}

/// Every `grant_type` label of `mesh_tokens_issued_total`.
const GRANTS: [&str; 5] = [
    "client_credentials",
    "password",
    "refresh_token",
    "token_exchange",
    "workload",
];

/// The `mesh_auth_failures_total` reasons of client and user logins and of
/// refresh tokens (`clients.rs`, `users.rs`, `grants/refresh_token.rs`):
/// the ones the credential-attack alerts watch, so they start at 0.
const LOGIN_FAILURES: [&str; 19] = [
    "no_client_credentials",
    "oversized_client_credentials",
    "malformed_basic_auth",
    "unsupported_auth_scheme",
    "client_backoff",
    "client_backoff_global",
    "unknown_client",
    "bad_client_secret",
    "oversized_user_credentials",
    "user_backoff",
    "user_backoff_global",
    "unknown_user",
    "bad_user_password",
    "unknown_refresh_token",
    "refresh_token_wrong_client",
    "refresh_token_revoked",
    "refresh_token_expired",
    "refresh_token_unknown_user",
    "refresh_token_reuse",
];

/// The counters handlers update. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    /// The kit's shared security counters (auth failures, denials).
    pub(crate) mesh: mesh::Metrics,
    issued: Family<GrantLabel, Counter>,
}

impl Metrics {
    /// Registers the auth metrics in `registry`, beside `mesh`'s.
    pub(crate) fn register(mesh: mesh::Metrics, registry: &mut Registry) -> Self {
        let issued = Family::<GrantLabel, Counter>::default();
        registry.register(
            "mesh_tokens_issued",
            "Access tokens issued, by grant type",
            issued.clone(),
        );
        for grant_type in GRANTS {
            // Exported at 0 from the start; the guard is dropped at once.
            drop(issued.get_or_create(&GrantLabel { grant_type }));
        }
        mesh.declare_auth_failures(LOGIN_FAILURES);
        Self { mesh, issued }
    }

    /// Counts one access token issued with `grant_type`.
    pub(crate) fn token_issued(&self, grant_type: &'static str) {
        self.issued.get_or_create(&GrantLabel { grant_type }).inc();
    }
}
