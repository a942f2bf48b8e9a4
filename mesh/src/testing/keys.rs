//! A stand-in for the `auth` workload in tests of other crates: it serves
//! a [`TestIssuer`]'s JWKS (and can be taken down), exchanges tokens
//! (RFC 8693, minimally: same subject, client, scopes and roles, the
//! requested audience, `act` naming the caller, the `root_jti` it came
//! from), issues workload tokens and serves a revocation feed that tests
//! add to, all over real mutual TLS.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use mesh_proto::auth::v1::{
    ExchangeTokenRequest, GetJwksRequest, GetJwksResponse, GetWorkloadTokenRequest,
    ListRevocationsRequest, ListRevocationsResponse, RevokedSubject, RevokedToken, TokenResponse,
    auth_server::{Auth, AuthServer, SERVICE_NAME},
    revocations_server::{Revocations, RevocationsServer},
    workload_tokens_server::{WorkloadTokens, WorkloadTokensServer},
};
use serde_json::json;
use tonic::{Request, Response, Status};

use super::{Running, TestIssuer, TestPki};
use crate::{Policy, Rule, Server};

/// The `auth` stand-in.
#[derive(Debug, Clone)]
pub struct KeyServer {
    /// The keys it publishes and signs with.
    pub issuer: Arc<TestIssuer>,
    /// JWKS fetches served.
    pub fetches: Arc<AtomicUsize>,
    /// While set, every call fails with UNAVAILABLE.
    pub down: Arc<AtomicBool>,
    /// The revocation feed, oldest first: an entry's version is its
    /// position plus one.
    pub revoked: Arc<Mutex<Vec<Revoked>>>,
}

/// One entry of the stand-in's revocation feed.
#[derive(Debug, Clone)]
pub enum Revoked {
    /// A token, by `jti`.
    Token(RevokedToken),
    /// A subject's sessions.
    Subject(RevokedSubject),
}

/// The stand-in's feed name: a follower with another starts over.
const FEED: &str = "test-feed";

impl KeyServer {
    /// JWKS fetches served so far.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Publishes `jti` (valid until `exp`) as revoked.
    pub fn revoke_jti(&self, jti: &str, exp: i64) {
        self.push(Revoked::Token(RevokedToken {
            jti: jti.to_owned(),
            expires_at: exp,
        }));
    }

    /// Publishes that `subject`'s tokens (of `client_id`, or every client
    /// when empty) issued before `not_before` are revoked.
    pub fn revoke_subject(&self, subject: &str, client_id: &str, not_before: i64) {
        self.push(Revoked::Subject(RevokedSubject {
            subject: subject.to_owned(),
            client_id: client_id.to_owned(),
            not_before,
            expires_at: not_before + 3600,
        }));
    }

    fn push(&self, entry: Revoked) {
        self.revoked.lock().expect("feed lock").push(entry);
    }
}

#[tonic::async_trait]
impl Revocations for KeyServer {
    /// Everything after `since_version`, or everything for a new follower.
    async fn list_revocations(
        &self,
        request: Request<ListRevocationsRequest>,
    ) -> Result<Response<ListRevocationsResponse>, Status> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Status::unavailable("key server is down"));
        }
        let request = request.into_inner();
        let snapshot = request.feed != FEED;
        let since = if snapshot { 0 } else { request.since_version };
        let feed = self.revoked.lock().expect("feed lock");
        let mut response = ListRevocationsResponse {
            feed: FEED.to_owned(),
            version: since.max(feed.len() as u64),
            snapshot,
            ..ListRevocationsResponse::default()
        };
        for entry in feed.iter().skip(since as usize) {
            match entry.clone() {
                Revoked::Token(token) => response.tokens.push(token),
                Revoked::Subject(subject) => response.subjects.push(subject),
            }
        }
        Ok(Response::new(response))
    }
}

#[tonic::async_trait]
impl Auth for KeyServer {
    async fn get_jwks(
        &self,
        _: Request<GetJwksRequest>,
    ) -> Result<Response<GetJwksResponse>, Status> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Status::unavailable("key server is down"));
        }
        self.fetches.fetch_add(1, Ordering::SeqCst);
        Ok(Response::new(GetJwksResponse {
            jwks_json: self.issuer.jwks(),
        }))
    }

    /// A minimal RFC 8693 exchange: same subject, the requested audience,
    /// and an `act` naming the calling workload.
    async fn exchange_token(
        &self,
        request: Request<ExchangeTokenRequest>,
    ) -> Result<Response<TokenResponse>, Status> {
        let peer = request
            .extensions()
            .get::<crate::PeerId>()
            .cloned()
            .expect("peer identity");
        let request = request.into_inner();
        let subject = super::unverified_claims(&request.subject_token);
        let sub = subject["sub"].as_str().expect("sub");
        let mut claims = self.issuer.claims(sub, &[&request.audience]);
        // The subject keeps who it is and what it may do; only the
        // audience narrows, and the exchanging workload is named.
        for kept in ["client_id", "scope", "roles"] {
            claims[kept] = subject[kept].clone();
        }
        claims["act"] = json!({ "sub": peer.to_string() });
        claims["root_jti"] = subject.get("root_jti").unwrap_or(&subject["jti"]).clone();
        Ok(Response::new(TokenResponse {
            access_token: self.issuer.token("es-1", &claims),
            token_type: "Bearer".to_owned(),
            expires_in: 300,
            scope: claims["scope"].as_str().unwrap_or_default().to_owned(),
            issued_token_type: "urn:ietf:params:oauth:token-type:access_token".to_owned(),
        }))
    }
}

/// Starts the key server as workload `auth`.
pub async fn start_key_server(pki: &TestPki) -> (Running, KeyServer) {
    let keys = KeyServer {
        issuer: Arc::new(TestIssuer::new()),
        fetches: Arc::default(),
        down: Arc::default(),
        revoked: Arc::default(),
    };
    let server = Server::start(crate::AUTH, pki.server_args("auth"))
        .await
        .expect("start auth");
    let policy = Policy::new()
        .rpc(SERVICE_NAME, "GetJwks", Rule::any_workload().no_token())
        .rpc(
            SERVICE_NAME,
            "ExchangeToken",
            Rule::any_workload().no_token(),
        )
        .service(WORKLOAD_TOKENS, Rule::any_workload().no_token())
        .service(REVOCATIONS, Rule::any_workload().no_token());
    let grpc = server
        .grpc(policy)
        .add_service(AuthServer::new(keys.clone()))
        .add_service(WorkloadTokensServer::new(keys.clone()))
        .add_service(RevocationsServer::new(keys.clone()));
    (Running::spawn(server, grpc), keys)
}

const WORKLOAD_TOKENS: &str = mesh_proto::auth::v1::workload_tokens_server::SERVICE_NAME;
const REVOCATIONS: &str = mesh_proto::auth::v1::revocations_server::SERVICE_NAME;

#[tonic::async_trait]
impl WorkloadTokens for KeyServer {
    /// A token for the calling workload: `sub` its SPIFFE ID, for every
    /// audience of the sample domain.
    async fn get_workload_token(
        &self,
        request: Request<GetWorkloadTokenRequest>,
    ) -> Result<Response<TokenResponse>, Status> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Status::unavailable("key server is down"));
        }
        let peer = request
            .extensions()
            .get::<crate::PeerId>()
            .cloned()
            .expect("peer identity");
        let mut claims = self
            .issuer
            .claims(&peer.to_string(), &["orders", "payments", "accounts"]);
        claims["client_id"] = json!(peer.workload());
        claims["roles"] = json!([]);
        Ok(Response::new(TokenResponse {
            access_token: self.issuer.token("es-1", &claims),
            token_type: "Bearer".to_owned(),
            expires_in: 300,
            scope: claims["scope"].as_str().unwrap_or_default().to_owned(),
            issued_token_type: "urn:ietf:params:oauth:token-type:access_token".to_owned(),
        }))
    }
}
