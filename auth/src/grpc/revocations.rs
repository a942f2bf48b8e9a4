//! `auth.v1.Revocations`: the revocation feed every workload follows, so
//! that a revoked token stops working everywhere within seconds without
//! a call to auth per request (docs/architecture.md, revocation).
//!
//! A page holds at most [`PAGE`] rows; a follower asks again at once while
//! `more` is set. Rows come from the store in version order; expired rows
//! are left out but still move the version on.

use std::sync::Arc;

use mesh_proto::auth::v1::{
    ListRevocationsRequest, ListRevocationsResponse, RevokedSubject, RevokedToken,
    revocations_server::{Revocations, RevocationsServer},
};
use tonic::{Request, Response, Status};

use super::record;
use crate::{authority::Authority, error::Error};

/// Rows per answer: small enough for one message, large enough that a
/// new follower of a busy feed needs few round trips.
const PAGE: i64 = 5_000;

/// The generated server of `auth.v1.Revocations`.
pub(crate) fn service(auth: Arc<Authority>) -> RevocationsServer<Feed> {
    RevocationsServer::new(Feed { auth })
}

/// The handler of `auth.v1.Revocations`.
#[derive(Debug)]
pub(crate) struct Feed {
    auth: Arc<Authority>,
}

#[tonic::async_trait]
impl Revocations for Feed {
    async fn list_revocations(
        &self,
        request: Request<ListRevocationsRequest>,
    ) -> Result<Response<ListRevocationsResponse>, Status> {
        let auth = &self.auth;
        let request = request.into_inner();
        let since = i64::try_from(request.since_version).unwrap_or(-1);
        let page = auth
            .store
            .feed_page(&request.feed, since, PAGE, auth.clock.now())
            .await
            .map_err(|e| {
                let error = Error::from(e);
                record(auth, "/auth.v1.Revocations/ListRevocations", error)
            })?;
        let tokens = page
            .tokens
            .into_iter()
            .map(|(jti, expires_at)| RevokedToken { jti, expires_at });
        let subjects =
            page.subjects
                .into_iter()
                .map(
                    |(subject, client_id, not_before, expires_at)| RevokedSubject {
                        subject,
                        client_id,
                        not_before,
                        expires_at,
                    },
                );
        Ok(Response::new(ListRevocationsResponse {
            feed: page.feed,
            version: u64::try_from(page.version).unwrap_or(0),
            snapshot: page.snapshot,
            more: page.more,
            tokens: tokens.collect(),
            subjects: subjects.collect(),
        }))
    }
}
