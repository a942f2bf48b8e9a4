//! Rate limits at the edge (GCRA, keyed): per authenticated subject, per
//! OAuth client, and per source IP for requests without a valid token. An
//! abusive key is throttled while every other key keeps its own budget;
//! idle keys are pruned so memory stays bounded.

use std::{hash::Hash, net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    state::keyed::DefaultKeyedStateStore,
};
use mesh::{Claims, Metrics};

use crate::problem::GatewayError;

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// Requests per second and burst, as configured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub(crate) per_second: NonZeroU32,
    pub(crate) burst: NonZeroU32,
}

impl Limit {
    fn quota(self) -> Quota {
        Quota::per_second(self.per_second).allow_burst(self.burst)
    }
}

/// The three keyed limiters.
#[derive(Debug)]
pub(crate) struct RateLimits {
    subject: Keyed<String>,
    client: Keyed<String>,
    ip: Keyed<IpAddr>,
    metrics: Metrics,
}

impl RateLimits {
    pub(crate) fn new(subject: Limit, client: Limit, ip: Limit, metrics: Metrics) -> Arc<Self> {
        metrics.declare_ratelimit_keys(&["subject", "client", "ip"]);
        Arc::new(Self {
            subject: RateLimiter::keyed(subject.quota()),
            client: RateLimiter::keyed(client.quota()),
            ip: RateLimiter::keyed(ip.quota()),
            metrics,
        })
    }

    /// Charges one request to the caller's subject and client.
    pub(crate) fn check_caller(&self, claims: &Claims) -> Result<(), GatewayError> {
        self.check(&self.subject, &claims.sub, "subject")?;
        self.check(&self.client, &claims.client_id, "client")
    }

    /// Charges one unauthenticated request to its source address.
    /// (An IPv6 client is charged by its /64, which it could roam freely.)
    pub(crate) fn check_ip(&self, ip: IpAddr) -> Result<(), GatewayError> {
        self.check(&self.ip, &mesh::peer::client_network(ip), "ip")
    }

    fn check<K: Clone + Hash + Eq>(
        &self,
        limiter: &Keyed<K>,
        key: &K,
        label: &'static str,
    ) -> Result<(), GatewayError> {
        limiter.check_key(key).map_err(|not_until| {
            self.metrics.ratelimit_rejected(label);
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            GatewayError::rate_limited(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        })
    }

    /// Forgets keys idle long enough to have a full budget again, every `every`.
    pub(crate) fn spawn_pruner(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                this.subject.retain_recent();
                this.client.retain_recent();
                this.ip.retain_recent();
                this.subject.shrink_to_fit();
                this.client.shrink_to_fit();
                this.ip.shrink_to_fit();
            }
        })
    }
}
