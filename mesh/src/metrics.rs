//! The Prometheus metrics every workload exports, named as in docs/architecture.md.
//!
//! One [`Registry`] per process, no global state: [`Metrics::new`] creates
//! the families, a service may register its own in the same registry while
//! it starts, and the admin port serves the result at `/metrics`. Every
//! series carries a constant `service` label.
//!
//! Each part of a workload that counts a security event first *declares*
//! the label values it can count (the `declare_*` methods), so those
//! series are exported at 0 from the first scrape: `rate()` and `absent()`
//! then tell "nothing happened" from "not scraped", and an alert sees the
//! first event as an increase instead of a new series.

use std::sync::Arc;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        exemplar::HistogramWithExemplars,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// A label set of one `reason`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// A label set of one `result`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// The labels of an authorization denial.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DenialLabels {
    method: String,
    reason: &'static str,
}

/// The labels of a rate-limit rejection: what the limit was keyed by.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabel {
    key: &'static str,
}

/// The labels of one RPC outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    method: String,
    code: &'static str,
}

/// The label of an HTTP request: its status code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    code: u16,
}

/// The exemplar of a latency observation: the trace it belongs to.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TraceLabel {
    trace_id: String,
}

/// A latency histogram whose buckets carry trace-id exemplars.
type LatencyHistogram = HistogramWithExemplars<TraceLabel>;

/// Latency buckets: 100 µs doubling up to about 13 s.
fn latency_histogram() -> LatencyHistogram {
    HistogramWithExemplars::new(exponential_buckets(0.000_1, 2.0, 18))
}

/// Buckets of the HTTP latency SLI: round numbers, so that the SLO's
/// threshold (`le="0.5"`) is a bucket boundary.
const HTTP_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Server faults, exported at 0 from the start so an SLO's error ratio
/// is 0, not missing, while all is well.
const SERVER_FAULTS: [u16; 4] = [500, 502, 503, 504];

/// Security and transport metrics shared by every layer of a workload.
/// Cheap to clone: all clones count into the same series.
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Families>,
}

#[derive(Debug)]
struct Families {
    auth_failures: Family<ReasonLabel, Counter>,
    authz_denied: Family<DenialLabels, Counter>,
    ratelimit_rejected: Family<KeyLabel, Counter>,
    tls_handshake_failures: Family<ReasonLabel, Counter>,
    jwks_refresh: Family<ResultLabel, Counter>,
    revocation_refresh: Family<ResultLabel, Counter>,
    cert_expiry: Gauge,
    cert_start: Gauge,
    cert_reloads: Family<ResultLabel, Counter>,
    rpc_requests: Family<RpcLabels, Counter>,
    rpc_duration: Family<RpcLabels, LatencyHistogram, fn() -> LatencyHistogram>,
    http_requests: Family<StatusLabel, Counter>,
    http_duration: Histogram,
}

impl Default for Families {
    fn default() -> Self {
        Self {
            auth_failures: Family::default(),
            authz_denied: Family::default(),
            ratelimit_rejected: Family::default(),
            tls_handshake_failures: Family::default(),
            jwks_refresh: Family::default(),
            revocation_refresh: Family::default(),
            cert_expiry: Gauge::default(),
            cert_start: Gauge::default(),
            cert_reloads: Family::default(),
            rpc_requests: Family::default(),
            rpc_duration: Family::new_with_constructor(latency_histogram),
            http_requests: Family::default(),
            http_duration: Histogram::new(HTTP_BUCKETS),
        }
    }
}

impl Metrics {
    /// Creates the families for workload `service` and the registry that
    /// exports them.
    pub fn new(service: &str) -> (Self, Registry) {
        let mut registry =
            Registry::with_labels([("service".into(), service.to_owned().into())].into_iter());
        let families = Families::default();
        registry.register(
            "mesh_auth_failures",
            "Requests refused for missing or bad credentials, by reason",
            families.auth_failures.clone(),
        );
        registry.register(
            "mesh_authz_denied",
            "Authenticated requests refused by the policy table, by method and reason",
            families.authz_denied.clone(),
        );
        registry.register(
            "mesh_ratelimit_rejected",
            "Requests refused by a rate limit, by what the limit is keyed on",
            families.ratelimit_rejected.clone(),
        );
        registry.register(
            "mesh_tls_handshake_failures",
            "Inbound TLS handshakes that failed, by reason",
            families.tls_handshake_failures.clone(),
        );
        registry.register(
            "mesh_jwks_refresh",
            "JWKS fetches from the auth service, by result",
            families.jwks_refresh.clone(),
        );
        registry.register(
            "mesh_revocation_refresh",
            "Polls of the auth service's revocation feed, by result",
            families.revocation_refresh.clone(),
        );
        registry.register(
            "mesh_cert_expiry_timestamp_seconds",
            "When the workload certificate in use expires (Unix time)",
            families.cert_expiry.clone(),
        );
        registry.register(
            "mesh_cert_not_before_timestamp_seconds",
            "When the workload certificate in use became valid (Unix time): its lifetime, with the expiry",
            families.cert_start.clone(),
        );
        registry.register(
            "mesh_cert_reloads",
            "Reloads of rotated certificate files, by result",
            families.cert_reloads.clone(),
        );
        registry.register(
            "mesh_rpc_requests",
            "RPCs served, by method and gRPC status code",
            families.rpc_requests.clone(),
        );
        registry.register(
            "mesh_rpc_duration_seconds",
            "Time to serve an RPC, by method and gRPC status code",
            families.rpc_duration.clone(),
        );
        registry.register(
            "mesh_http_requests",
            "Requests served on an HTTPS port (public edge, OAuth), by status code",
            families.http_requests.clone(),
        );
        registry.register(
            "mesh_http_request_duration_seconds",
            "Time to answer a request on an HTTPS port",
            families.http_duration.clone(),
        );
        declare(
            &families.http_requests,
            SERVER_FAULTS.map(|code| StatusLabel { code }),
        );
        (
            Self {
                inner: Arc::new(families),
            },
            registry,
        )
    }

    /// Exports `mesh_auth_failures_total{reason}` at 0 for each of `reasons`.
    pub fn declare_auth_failures(&self, reasons: impl IntoIterator<Item = &'static str>) {
        let labels = reasons.into_iter().map(|reason| ReasonLabel { reason });
        declare(&self.inner.auth_failures, labels);
    }

    /// Exports `mesh_authz_denied_total{method,reason}` at 0 for each of `reasons`.
    pub fn declare_authz_denials(&self, method: &str, reasons: &[&'static str]) {
        let labels = reasons.iter().map(|&reason| DenialLabels {
            method: method.to_owned(),
            reason,
        });
        declare(&self.inner.authz_denied, labels);
    }

    /// Exports `mesh_ratelimit_rejected_total{key}` at 0 for each of `keys`.
    pub fn declare_ratelimit_keys(&self, keys: &[&'static str]) {
        declare(
            &self.inner.ratelimit_rejected,
            keys.iter().map(|&key| KeyLabel { key }),
        );
    }

    /// Exports `mesh_tls_handshake_failures_total{reason}` at 0 for each of `reasons`.
    pub(crate) fn declare_tls_handshake_failures(&self, reasons: &[&'static str]) {
        let labels = reasons.iter().map(|&reason| ReasonLabel { reason });
        declare(&self.inner.tls_handshake_failures, labels);
    }

    /// Exports `mesh_jwks_refresh_total{result}` at 0 for each of `results`.
    pub(crate) fn declare_jwks_refreshes(&self, results: &[&'static str]) {
        let labels = results.iter().map(|&result| ResultLabel { result });
        declare(&self.inner.jwks_refresh, labels);
    }

    /// Exports `mesh_revocation_refresh_total{result}` at 0 for each of `results`.
    pub(crate) fn declare_revocation_refreshes(&self, results: &[&'static str]) {
        let labels = results.iter().map(|&result| ResultLabel { result });
        declare(&self.inner.revocation_refresh, labels);
    }

    /// Exports `mesh_cert_reloads_total{result}` at 0 for each of `results`.
    pub(crate) fn declare_cert_reloads(&self, results: &[&'static str]) {
        let labels = results.iter().map(|&result| ResultLabel { result });
        declare(&self.inner.cert_reloads, labels);
    }

    /// Counts a request refused as unauthenticated.
    pub fn auth_failure(&self, reason: &'static str) {
        self.inner
            .auth_failures
            .get_or_create(&ReasonLabel { reason })
            .inc();
        // The same event on the span that refused, so its trace says why.
        tracing::warn!(target: crate::telemetry::SPAN_EVENTS, reason, "auth.failure");
    }

    /// Counts a request the policy table denied.
    pub fn authz_denied(&self, method: &str, reason: &'static str) {
        let labels = DenialLabels {
            method: method.to_owned(),
            reason,
        };
        self.inner.authz_denied.get_or_create(&labels).inc();
        tracing::warn!(target: crate::telemetry::SPAN_EVENTS, reason, "authz.denied");
    }

    /// Counts a request refused by a rate limit keyed on `key`.
    pub fn ratelimit_rejected(&self, key: &'static str) {
        self.inner
            .ratelimit_rejected
            .get_or_create(&KeyLabel { key })
            .inc();
        tracing::warn!(target: crate::telemetry::SPAN_EVENTS, key, "ratelimit.rejected");
    }

    /// Counts a failed inbound TLS handshake.
    pub fn tls_handshake_failure(&self, reason: &'static str) {
        self.inner
            .tls_handshake_failures
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// Counts a JWKS fetch.
    pub fn jwks_refresh(&self, result: &'static str) {
        self.inner
            .jwks_refresh
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// Counts a poll of the revocation feed.
    pub fn revocation_refresh(&self, result: &'static str) {
        self.inner
            .revocation_refresh
            .get_or_create(&ResultLabel { result })
            .inc();
    }

    /// Records when the certificate in use became valid and when it expires.
    pub fn set_cert_validity(&self, not_before: i64, not_after: i64) {
        self.inner.cert_start.set(not_before);
        self.inner.cert_expiry.set(not_after);
    }

    /// Records one served RPC; `trace_id`, when tracing is on, becomes
    /// the exemplar linking the latency bucket to the trace.
    pub fn rpc(&self, method: &str, code: &'static str, seconds: f64, trace_id: Option<String>) {
        let labels = RpcLabels {
            method: method.to_owned(),
            code,
        };
        self.inner.rpc_requests.get_or_create(&labels).inc();
        let exemplar = trace_id.map(|trace_id| TraceLabel { trace_id });
        self.inner
            .rpc_duration
            .get_or_create(&labels)
            .observe(seconds, exemplar, None);
    }

    /// Records one request answered on an HTTPS port.
    pub fn http(&self, code: u16, seconds: f64) {
        self.inner
            .http_requests
            .get_or_create(&StatusLabel { code })
            .inc();
        self.inner.http_duration.observe(seconds);
    }

    /// Counts an attempt to load rotated certificate files.
    pub fn cert_reload(&self, result: &'static str) {
        self.inner
            .cert_reloads
            .get_or_create(&ResultLabel { result })
            .inc();
    }
}

/// Creates the series of `family` for each of `labels`, at 0 if new.
fn declare<L>(family: &Family<L, Counter>, labels: impl IntoIterator<Item = L>)
where
    L: Clone + std::hash::Hash + Eq,
{
    for label in labels {
        // Creating the series is the point; the guard is dropped at once.
        drop(family.get_or_create(&label));
    }
}

/// Encodes `registry` in the OpenMetrics text format.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}
