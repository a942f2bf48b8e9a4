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
        Self { mesh, issued }
    }

    /// Counts one access token issued with `grant_type`.
    pub(crate) fn token_issued(&self, grant_type: &'static str) {
        self.issued.get_or_create(&GrantLabel { grant_type }).inc();
    }
}
