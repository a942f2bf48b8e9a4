//! The admin port: plain HTTP on a separate listener (keep it on loopback
//! or a private network) serving `/healthz` (the process is up), `/readyz`
//! (every readiness condition holds) and `/metrics` (OpenMetrics text).

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Named readiness conditions; `/readyz` answers 200 only when all hold.
/// Cheap to clone; all clones share the same conditions.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    conditions: Arc<Mutex<BTreeMap<&'static str, bool>>>,
}

impl Readiness {
    /// Sets condition `name`.
    pub fn set(&self, name: &'static str, ready: bool) {
        self.lock().insert(name, ready);
    }

    /// Whether every condition holds (and there is at least one).
    pub fn is_ready(&self) -> bool {
        let conditions = self.lock();
        !conditions.is_empty() && conditions.values().all(|ready| *ready)
    }

    fn report(&self) -> String {
        self.lock()
            .iter()
            .map(|(name, ready)| format!("{name}: {}\n", if *ready { "ok" } else { "not ready" }))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, bool>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.conditions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Clone)]
struct AdminState {
    registry: Arc<Registry>,
    readiness: Readiness,
}

/// Serves the admin routes on `listener` until `stop` is cancelled.
pub(super) async fn serve(
    listener: TcpListener,
    registry: Arc<Registry>,
    readiness: Readiness,
    stop: CancellationToken,
) {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(AdminState {
            registry,
            readiness,
        });
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
    {
        tracing::error!(%error, "admin server failed");
    }
}

async fn readyz(State(state): State<AdminState>) -> impl IntoResponse {
    let status = if state.readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, state.readiness.report())
}

async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        crate::metrics::encode(&state.registry),
    )
}
