//! Every request of an HTTPS port (the gateway's public edge, auth's OAuth
//! endpoints) counted by status code and timed: the service-level
//! indicators the gateway's SLOs are computed from (`deploy/slo.yml`).
//!
//! Recorded when the response head is ready, which for the unary calls of
//! the edge is when the answer is known. A gRPC answer whose status is in
//! the head (trailers-only: the edge's own refusals, an upstream's
//! immediate error) counts as the HTTP status a REST call would get, so
//! both kinds of clients share one SLI; a status sent in trailers after a
//! body is not seen here and counts as 200 (a known gap of the SLI).

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Instant,
};

use tower::{Layer, Service};

use crate::metrics::Metrics;

/// Adds [`HttpService`] to a router.
#[derive(Debug, Clone)]
pub struct HttpLayer {
    metrics: Metrics,
}

impl HttpLayer {
    /// Records into `metrics`' `mesh_http_*` families.
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for HttpLayer {
    type Service = HttpService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// Counts and times every HTTP request.
#[derive(Debug, Clone)]
pub struct HttpService<S> {
    inner: S,
    metrics: Metrics,
}

impl<S, B, ResBody> Service<http::Request<B>> for HttpService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let start = Instant::now();
        let metrics = self.metrics.clone();
        let future = self.inner.call(req);
        Box::pin(async move {
            let response = future.await?;
            metrics.http(status(&response), start.elapsed().as_secs_f64());
            Ok(response)
        })
    }
}

/// The HTTP status, or for a gRPC answer whose status is in the head,
/// the HTTP status of the same outcome (server faults stay 5xx).
fn status<B>(response: &http::Response<B>) -> u16 {
    let grpc = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok()?.parse::<u8>().ok());
    match grpc {
        None | Some(0) => response.status().as_u16(),
        Some(1) => 499,
        Some(3 | 9 | 11) => 400,
        Some(4) => 504,
        Some(5) => 404,
        Some(6 | 10) => 409,
        Some(7) => 403,
        Some(8) => 429,
        Some(12) => 501,
        Some(14) => 503,
        Some(16) => 401,
        Some(_) => 500,
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::ServiceExt as _;

    use super::*;

    #[tokio::test]
    async fn counts_by_status_and_maps_grpc_statuses_in_the_head() {
        let (metrics, registry) = Metrics::new("gateway");
        let answer = |status: u16, grpc: Option<&'static str>| {
            let metrics = metrics.clone();
            async move {
                let inner = tower::service_fn(move |_: http::Request<()>| async move {
                    let mut response = http::Response::builder().status(status);
                    if let Some(code) = grpc {
                        response = response.header("grpc-status", code);
                    }
                    Ok::<_, Infallible>(response.body(()).expect("response"))
                });
                HttpLayer::new(metrics)
                    .layer(inner)
                    .oneshot(http::Request::new(()))
                    .await
                    .expect("infallible");
            }
        };
        answer(200, None).await;
        answer(200, Some("0")).await;
        answer(200, Some("14")).await;
        answer(401, None).await;
        let text = crate::metrics::encode(&registry);
        let count = |code: &str| {
            let series =
                format!("mesh_http_requests_total{{service=\"gateway\",code=\"{code}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&series)?.parse::<f64>().ok())
                .unwrap_or(-1.0)
        };
        assert_eq!(count("200"), 2.0, "{text}");
        assert_eq!(count("503"), 1.0, "{text}");
        assert_eq!(count("401"), 1.0, "{text}");
        assert!(
            text.contains("mesh_http_request_duration_seconds_count{service=\"gateway\"} 4"),
            "{text}"
        );
    }
}
