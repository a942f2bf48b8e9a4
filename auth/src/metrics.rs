//! The auth service's own metrics, next to the shared security metrics of
//! the kit: `mesh_tokens_issued_total{grant_type}`, and for secret rotation
//! `mesh_client_secret_used_total{client,generation}` (an operator sees
//! when the previous secret stops being used) and
//! `mesh_client_secret_previous_expiry_timestamp_seconds{client}` (when it
//! stops working; 0 when there is none).

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

/// A label set of one `grant_type`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabel {
    grant_type: &'static str,
}

/// A label set of one client's secret generation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SecretLabel {
    client: String,
    generation: &'static str,
}

/// A label set of one client.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientLabel {
    client: String,
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
    secret_used: Family<SecretLabel, Counter>,
    previous_expiry: Family<ClientLabel, Gauge>,
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
        let secret_used = Family::<SecretLabel, Counter>::default();
        registry.register(
            "mesh_client_secret_used",
            "Client authentications by secret generation (current, or previous during a rotation)",
            secret_used.clone(),
        );
        let previous_expiry = Family::<ClientLabel, Gauge>::default();
        registry.register(
            "mesh_client_secret_previous_expiry_timestamp_seconds",
            "When a client's previous secret stops working (Unix seconds; 0: none)",
            previous_expiry.clone(),
        );
        Self {
            mesh,
            issued,
            secret_used,
            previous_expiry,
        }
    }

    /// Exports `client`'s secret series at 0, so rates work from the start.
    pub(crate) fn init_client(&self, client: &str) {
        for generation in ["current", "previous"] {
            let label = SecretLabel {
                client: client.to_owned(),
                generation,
            };
            drop(self.secret_used.get_or_create(&label));
        }
        self.previous_secret_until(client, 0);
    }

    /// Counts one authentication of `client` with its secret of `generation`.
    pub(crate) fn secret_used(&self, client: &str, generation: &'static str) {
        let label = SecretLabel {
            client: client.to_owned(),
            generation,
        };
        self.secret_used.get_or_create(&label).inc();
    }

    /// Records when `client`'s previous secret stops working (0: none).
    pub(crate) fn previous_secret_until(&self, client: &str, until: i64) {
        let label = ClientLabel {
            client: client.to_owned(),
        };
        self.previous_expiry.get_or_create(&label).set(until);
    }

    /// Counts one access token issued with `grant_type`.
    pub(crate) fn token_issued(&self, grant_type: &'static str) {
        self.issued.get_or_create(&GrantLabel { grant_type }).inc();
    }
}
