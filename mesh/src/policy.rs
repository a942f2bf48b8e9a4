//! The authorization policy table and the layer that enforces it.
//!
//! Each service declares one [`Policy`]: for every RPC, which workloads may
//! call it, whether it needs the subject's token, and which scopes (all of
//! them) and roles (any of them) that token must carry. An RPC that is not
//! in the table is denied. Object-level checks (is this the caller's own
//! order?) stay in handlers, with [`crate::Caller::may_access`].

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    task::{Context, Poll},
};

use futures_util::future::Either;
use tonic::Status;
use tower::{Layer, Service};

use crate::{
    identity::PeerId,
    jwt::{AuthError, Caller, Role},
    metrics::Metrics,
};

/// Which workloads may call an RPC.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Peers {
    /// Any workload with a valid mesh identity.
    AnyWorkload,
    /// Only these workload names.
    Only(HashSet<String>),
}

/// Who may call one RPC. By default a rule requires the subject's token;
/// machine-only RPCs opt out with [`Rule::no_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    peers: Peers,
    /// A public RPC ([`Rule::public`]): load-test peers join it when load
    /// testing is switched on ([`Policy::with_load_test_peers`]).
    public: bool,
    token: bool,
    /// All of these must be granted.
    scopes: Vec<String>,
    /// One of these must be held (empty: any role).
    roles: Vec<Role>,
}

impl Rule {
    /// Only the named workloads, for example `Rule::peers(["payments"])`.
    pub fn peers<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Self::with(Peers::Only(names.into_iter().map(str::to_owned).collect()))
    }

    /// A public RPC: the edge (the gateway) only, plus the load-test peers
    /// when load testing is switched on (`--load-test-peer`), never by default.
    pub fn public() -> Self {
        Self {
            public: true,
            ..Self::peers([crate::config::GATEWAY.name])
        }
    }

    /// Any workload of the mesh.
    pub fn any_workload() -> Self {
        Self::with(Peers::AnyWorkload)
    }

    /// These workloads too, for example `Rule::public().and_peers(["orders"])`.
    pub fn and_peers<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        if let Peers::Only(peers) = &mut self.peers {
            peers.extend(names.into_iter().map(str::to_owned));
        }
        self
    }

    fn with(peers: Peers) -> Self {
        Self {
            peers,
            public: false,
            token: true,
            scopes: Vec::new(),
            roles: Vec::new(),
        }
    }

    /// No subject token needed: workload identity alone (health, JWKS).
    pub fn no_token(mut self) -> Self {
        self.token = false;
        self
    }

    /// The token must grant every one of `scopes`.
    pub fn scopes<'a>(mut self, scopes: impl IntoIterator<Item = &'a str>) -> Self {
        self.scopes = scopes.into_iter().map(str::to_owned).collect();
        self
    }

    /// The subject must hold one of `roles`.
    pub fn roles(mut self, roles: impl IntoIterator<Item = Role>) -> Self {
        self.roles = roles.into_iter().collect();
        self
    }

    /// Whether calls need a subject token.
    pub fn needs_token(&self) -> bool {
        self.token
    }

    fn allows(&self, peer: &PeerId) -> bool {
        match &self.peers {
            Peers::AnyWorkload => true,
            Peers::Only(names) => names.contains(peer.workload()),
        }
    }
}

/// The policy table of one workload: gRPC path to [`Rule`].
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Keyed by full gRPC path, `/package.Service/Method`.
    methods: HashMap<String, Rule>,
    /// Keyed by `package.Service`: a rule for every method of the service.
    services: HashMap<String, Rule>,
}

impl Policy {
    /// An empty table: everything is denied.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows `method` of gRPC service `service` (its `SERVICE_NAME`, for
    /// example `accounts.v1.Accounts`) under `rule`.
    pub fn rpc(mut self, service: &str, method: &str, rule: Rule) -> Self {
        self.methods.insert(format!("/{service}/{method}"), rule);
        self
    }

    /// Allows every method of `service` under `rule`.
    pub fn service(mut self, service: &str, rule: Rule) -> Self {
        self.services.insert(service.to_owned(), rule);
        self
    }

    /// Admits `peers` (load-test identities such as `loadgen`) wherever a
    /// [`Rule::public`] admits the gateway. Servers call it with
    /// `--load-test-peer`, which is empty unless load testing is switched on.
    pub fn with_load_test_peers(mut self, peers: &[String]) -> Self {
        let rules = self.methods.values_mut().chain(self.services.values_mut());
        for rule in rules.filter(|rule| rule.public) {
            if let Peers::Only(names) = &mut rule.peers {
                names.extend(peers.iter().cloned());
            }
        }
        self
    }

    /// The rule for a request path, if the table has one.
    pub fn rule(&self, path: &str) -> Option<&Rule> {
        self.methods.get(path).or_else(|| {
            let service = path.strip_prefix('/')?.split_once('/')?.0;
            self.services.get(service)
        })
    }

    /// Every RPC path the table names explicitly.
    pub fn methods(&self) -> impl Iterator<Item = &str> {
        self.methods.keys().map(String::as_str)
    }

    /// Whether any RPC needs a subject token (and so a JWT validator).
    pub fn needs_tokens(&self) -> bool {
        self.methods
            .values()
            .chain(self.services.values())
            .any(Rule::needs_token)
    }
}

/// The reasons a listed RPC is denied, exported at 0 per method from the start.
const DENIALS: [&str; 3] = ["peer_not_allowed", "missing_scope", "missing_role"];

/// Adds [`AuthorizeService`] to a stack; it must sit after [`crate::PeerIdLayer`].
#[derive(Debug, Clone)]
pub struct AuthorizeLayer {
    policy: Arc<Policy>,
    metrics: Metrics,
}

impl AuthorizeLayer {
    /// Enforces `policy`; denials are counted in `mesh_authz_denied_total`.
    pub fn new(policy: Arc<Policy>, metrics: Metrics) -> Self {
        metrics.declare_authz_denials("unknown", &["no_rule"]);
        for method in policy.methods() {
            metrics.declare_authz_denials(method, &DENIALS);
        }
        Self { policy, metrics }
    }
}

impl<S> Layer<S> for AuthorizeLayer {
    type Service = AuthorizeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthorizeService {
            inner,
            policy: self.policy.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// Lets a request through only if the policy table allows its caller.
#[derive(Debug, Clone)]
pub struct AuthorizeService<S> {
    inner: S,
    policy: Arc<Policy>,
    metrics: Metrics,
}

impl<S> AuthorizeService<S> {
    fn check<B>(&self, req: &http::Request<B>) -> Result<(), Status> {
        let path = req.uri().path();
        let Some(rule) = self.policy.rule(path) else {
            // Label unknown paths as one value: callers choose paths, and
            // metric cardinality must stay bounded.
            self.metrics.authz_denied("unknown", "no_rule");
            tracing::warn!(path, "denied an RPC that the policy table does not list");
            return Err(Status::permission_denied(
                "this RPC is not in the policy table",
            ));
        };
        let peer = req.extensions().get::<PeerId>();
        if !peer.is_some_and(|peer| rule.allows(peer)) {
            self.metrics.authz_denied(path, "peer_not_allowed");
            let peer = peer.map_or_else(|| "an unidentified peer".to_owned(), PeerId::to_string);
            tracing::warn!(path, %peer, "denied a workload the policy table does not allow");
            return Err(Status::permission_denied(format!(
                "{peer} may not call {path}"
            )));
        }
        if !rule.token {
            return Ok(());
        }
        let Some(caller) = req.extensions().get::<Caller>() else {
            let error = AuthError::Missing;
            self.metrics.auth_failure(error.reason());
            tracing::warn!(path, "refused a call without a bearer token");
            return Err(error.into());
        };
        let claims = caller.claims();
        if let Some(missing) = rule.scopes.iter().find(|s| !claims.has_scope(s)) {
            self.metrics.authz_denied(path, "missing_scope");
            tracing::warn!(path, sub = %claims.sub, scope = %missing, "denied a token without a required scope");
            return Err(Status::permission_denied(format!(
                "the token lacks scope {missing}"
            )));
        }
        if !rule.roles.is_empty() && !rule.roles.iter().any(|r| claims.has_role(*r)) {
            self.metrics.authz_denied(path, "missing_role");
            tracing::warn!(path, sub = %claims.sub, "denied a subject without a required role");
            let roles: Vec<&str> = rule.roles.iter().map(|r| r.as_str()).collect();
            return Err(Status::permission_denied(format!(
                "requires role {}",
                roles.join(" or ")
            )));
        }
        Ok(())
    }
}

impl<S, B, ResBody> Service<http::Request<B>> for AuthorizeService<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<S::Future, std::future::Ready<Result<Self::Response, Self::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        match self.check(&req) {
            Ok(()) => Either::Left(self.inner.call(req)),
            Err(status) => Either::Right(std::future::ready(Ok(status.into_http()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(name: &str) -> PeerId {
        let id: crate::SpiffeId = format!("spiffe://mesh.local/{name}")
            .parse()
            .expect("valid id");
        PeerId::from(id)
    }

    #[test]
    fn unlisted_rpcs_have_no_rule() {
        let policy = Policy::new().rpc("accounts.v1.Accounts", "Debit", Rule::peers(["payments"]));
        assert!(policy.rule("/accounts.v1.Accounts/Credit").is_none());
        assert!(policy.rule("/accounts.v1.Accounts/Debit").is_some());
        assert!(policy.rule("garbage").is_none());
    }

    #[test]
    fn rules_name_their_peers() {
        let rule = Rule::peers(["payments"]);
        assert!(rule.allows(&peer("payments")));
        assert!(!rule.allows(&peer("gateway")));
        assert!(Rule::any_workload().allows(&peer("gateway")));
    }

    #[test]
    fn load_test_peers_join_public_rules_only_when_switched_on() {
        let table = || {
            Policy::new().rpc("a.A", "Public", Rule::public()).rpc(
                "a.A",
                "Internal",
                Rule::peers(["payments"]),
            )
        };
        let allows = |policy: &Policy, rpc: &str, name: &str| {
            policy
                .rule(&format!("/a.A/{rpc}"))
                .is_some_and(|rule| rule.allows(&peer(name)))
        };
        let default = table().with_load_test_peers(&[]);
        assert!(allows(&default, "Public", "gateway"));
        assert!(!allows(&default, "Public", "loadgen"));
        let load_test = table().with_load_test_peers(&["loadgen".to_owned()]);
        assert!(allows(&load_test, "Public", "loadgen"));
        assert!(!allows(&load_test, "Internal", "loadgen"));
        let wider = Rule::public().and_peers(["orders"]);
        assert!(wider.allows(&peer("orders")) && wider.allows(&peer("gateway")));
    }

    #[test]
    fn service_rules_cover_every_method() {
        let policy = Policy::new().service("grpc.health.v1.Health", Rule::any_workload());
        assert!(policy.rule("/grpc.health.v1.Health/Check").is_some());
        assert!(policy.rule("/grpc.health.v1.Healthy/Check").is_none());
    }
}
