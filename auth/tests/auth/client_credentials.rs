//! `client_credentials`: the token a machine client gets for itself.

use crate::support::{Options, TestAuth, decode, post, secret, verify};

#[tokio::test]
async fn issues_an_rfc_9068_token_with_the_designed_claims() {
    let auth = TestAuth::start().await;
    let reply = auth
        .token("loadgen", &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert!(body.get("refresh_token").is_none());
    let token = body["access_token"].as_str().expect("access_token");

    let (header, claims) = decode(token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let jwks = auth.jwks().await;
    assert_eq!(header["kid"], jwks["keys"][0]["kid"]);
    let verified = verify(token, &jwks, &auth.issuer, "gateway");
    assert_eq!(verified, claims);

    assert_eq!(claims["iss"], auth.issuer);
    assert_eq!(claims["sub"], "loadgen");
    assert_eq!(claims["client_id"], "loadgen");
    assert_eq!(claims["aud"], serde_json::json!(["gateway"]));
    assert_eq!(claims["roles"], serde_json::json!(["USER"]));
    assert_eq!(
        claims["scope"],
        "accounts:read accounts:write orders:read orders:write payments:read"
    );
    let iat = claims["iat"].as_i64().expect("iat");
    assert_eq!(iat, auth.clock.now());
    assert_eq!(claims["nbf"].as_i64(), Some(iat));
    assert_eq!(claims["exp"].as_i64(), Some(iat + 300));
    assert_eq!(claims["jti"].as_str().map(str::len), Some(36));
    assert_eq!(
        auth.metric(
            "mesh_tokens_issued_total",
            r#"grant_type="client_credentials""#
        )
        .await,
        1.0
    );
}

#[tokio::test]
async fn client_secret_post_is_accepted_and_every_token_is_unique() {
    let auth = TestAuth::start().await;
    let mut jtis = std::collections::HashSet::new();
    for _ in 0..3 {
        let gw = secret("gateway");
        let params = [
            ("grant_type", "client_credentials"),
            ("client_id", "gateway"),
            ("client_secret", gw.as_str()),
        ];
        let reply = post(&auth.client(), "/oauth2/token", &params, None).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        let (_, claims) = decode(reply.json()["access_token"].as_str().expect("token"));
        assert_eq!(claims["sub"], "gateway");
        assert_eq!(claims["roles"], serde_json::json!([]));
        jtis.insert(claims["jti"].as_str().expect("jti").to_owned());
    }
    assert_eq!(jtis.len(), 3);
}

#[tokio::test]
async fn scope_and_audience_are_narrowed_to_the_request() {
    let auth = TestAuth::start().await;
    let token = auth
        .client_token(
            "gateway",
            &[("scope", "orders:read"), ("audience", "orders")],
        )
        .await;
    let (_, claims) = decode(&token);
    assert_eq!(claims["scope"], "orders:read");
    assert_eq!(claims["aud"], serde_json::json!(["orders"]));

    // RFC 8707 `resource` names audiences too; several may be asked for.
    let token = auth
        .client_token(
            "gateway",
            &[("resource", "payments"), ("audience", "accounts")],
        )
        .await;
    let (_, claims) = decode(&token);
    assert_eq!(claims["aud"], serde_json::json!(["accounts", "payments"]));
    // No scope asked: everything the client is registered for.
    assert_eq!(claims["scope"], "accounts:read orders:read payments:read");

    for audience in ["auth", "gateway", "nowhere"] {
        let reply = auth
            .token(
                "gateway",
                &[("grant_type", "client_credentials"), ("audience", audience)],
            )
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.error()),
            (400, "invalid_target".to_owned()),
            "{audience}"
        );
    }
}

#[tokio::test]
async fn a_client_not_registered_for_the_grant_is_unauthorized() {
    let auth = TestAuth::start().await;
    let reply = auth
        .token("meshctl", &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "unauthorized_client");
}

#[tokio::test]
async fn rs256_and_eddsa_are_selectable() {
    for (alg, kty) in [("RS256", "RSA"), ("EdDSA", "OKP")] {
        let auth = TestAuth::start_with(Options::args(&["--signing-alg", alg])).await;
        let token = auth.client_token("loadgen", &[]).await;
        let (header, _) = decode(&token);
        assert_eq!(header["alg"], alg);
        let jwks = auth.jwks().await;
        assert_eq!(jwks["keys"][0]["kty"], kty);
        assert_eq!(jwks["keys"][0]["alg"], alg);
        verify(&token, &jwks, &auth.issuer, "gateway");
        let introspected = auth.introspect("gateway", &token).await;
        assert_eq!(introspected["active"], true, "{alg}");
    }
}
