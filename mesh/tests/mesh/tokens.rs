//! Cases 1-16 of docs/security-cases.md against a real server over mutual TLS:
//! each bad token gets the exact status, is counted with its reason, and
//! never reaches the handler.

use std::time::Duration;

use mesh::testing::{TestIssuer, TestPki, metric, raw_channel};
use mesh_proto::auth::v1::{ExchangeTokenRequest, GetJwksRequest, auth_client::AuthClient};
use serde_json::{Value, json};
use tonic::{Code, Status, metadata::MetadataValue};

use crate::{
    fixture::scrape,
    tokens_fixture::{Echo, KeyServer, start_echo, start_key_server},
};

struct Setup {
    pki: TestPki,
    _auth: mesh::testing::Running,
    keys: KeyServer,
    echo: mesh::testing::Running,
    probe: Echo,
}

async fn setup_with(tune: impl FnOnce(&mut mesh::ServerArgs)) -> Setup {
    let pki = TestPki::new();
    let (auth, keys) = start_key_server(&pki).await;
    let (echo, probe) = start_echo(&pki, mesh::ACCOUNTS, &auth, tune, None).await;
    Setup {
        pki,
        _auth: auth,
        keys,
        echo,
        probe,
    }
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

impl Setup {
    fn issuer(&self) -> &TestIssuer {
        &self.keys.issuer
    }

    fn claims(&self) -> Value {
        self.issuer().claims("alice", &["accounts"])
    }

    /// Calls the echo as the gateway with these `authorization` values.
    async fn call_with(&self, authorization: &[String]) -> Result<Value, Status> {
        let channel = raw_channel(
            &(&self.pki.files("gateway")).into(),
            &self.pki.dir().ca_cert(),
            self.echo.grpc_addr,
        );
        let mut request = tonic::Request::new(GetJwksRequest {});
        for value in authorization {
            let value = MetadataValue::try_from(value.as_str()).expect("header value");
            request.metadata_mut().append("authorization", value);
        }
        let reply = AuthClient::new(channel).get_jwks(request).await?;
        Ok(serde_json::from_str(&reply.into_inner().jwks_json).expect("echo JSON"))
    }

    async fn call(&self, token: &str) -> Result<Value, Status> {
        self.call_with(&[format!("Bearer {token}")]).await
    }

    /// Asserts `token` is refused with `code`, counted as `reason`, and
    /// that the handler never ran.
    async fn refused(&self, token: &str, code: Code, reason: &str) {
        let before = self.failures(reason).await;
        let calls = self.probe.calls();
        let error = self.call(token).await.expect_err("must be refused");
        assert_eq!(error.code(), code, "{reason}: {error:?}");
        assert!(
            !error.message().contains(token),
            "the token must not be echoed back"
        );
        assert_eq!(
            self.failures(reason).await,
            before + 1.0,
            "counted as {reason}"
        );
        assert_eq!(
            self.probe.calls(),
            calls,
            "{reason}: the handler must not run"
        );
    }

    async fn failures(&self, reason: &str) -> f64 {
        metric(
            &scrape(&self.echo).await,
            "mesh_auth_failures_total",
            &format!("reason=\"{reason}\""),
        )
    }
}

fn header(alg: &str, kid: &str) -> Value {
    json!({"alg": alg, "typ": "at+jwt", "kid": kid})
}

#[tokio::test]
async fn valid_tokens_of_every_algorithm_reach_the_handler() {
    let s = setup().await;
    for kid in ["es-1", "rs-1", "ed-1"] {
        let seen = s
            .call(&s.issuer().token(kid, &s.claims()))
            .await
            .expect("accepted");
        assert_eq!(seen["sub"], "alice", "{kid}");
        assert_eq!(seen["peer"], "spiffe://mesh.local/gateway");
    }
    assert_eq!(s.probe.calls(), 3);
}

#[tokio::test]
async fn a_call_without_a_token_is_unauthenticated() {
    let s = setup().await;
    let error = s.call_with(&[]).await.expect_err("refused");
    assert_eq!(error.code(), Code::Unauthenticated);
    assert_eq!(s.failures("missing_token").await, 1.0);
    assert_eq!(s.probe.calls(), 0);
}

#[tokio::test]
async fn case_01_alg_none_in_any_casing_is_refused() {
    let s = setup().await;
    for alg in ["none", "None", "NONE", "nOnE"] {
        let token = s
            .issuer()
            .token_with_header("es-1", &header(alg, "es-1"), &s.claims());
        s.refused(&token, Code::Unauthenticated, "alg_not_allowed")
            .await;
        let unsigned = format!("{}.", token.rsplit_once('.').expect("compact").0);
        s.refused(&unsigned, Code::Unauthenticated, "malformed")
            .await;
    }
}

#[tokio::test]
async fn case_02_hmac_signed_with_the_public_key_is_refused() {
    let s = setup().await;
    let jwk = s.issuer().jwk("es-1");
    for secret in [jwk.to_string(), jwk["x"].as_str().expect("x").to_owned()] {
        let token =
            TestIssuer::hmac_token(secret.as_bytes(), &header("HS256", "es-1"), &s.claims());
        s.refused(&token, Code::Unauthenticated, "alg_not_allowed")
            .await;
    }
}

#[tokio::test]
async fn case_03_stripped_or_truncated_signatures_are_refused() {
    let s = setup().await;
    let token = s.issuer().token("es-1", &s.claims());
    let (message, signature) = token.rsplit_once('.').expect("compact");
    s.refused(&format!("{message}."), Code::Unauthenticated, "malformed")
        .await;
    // Cut on the text (bad base64) and on the bytes (a short signature).
    s.refused(
        &format!("{message}.{}", &signature[..signature.len() - 4]),
        Code::Unauthenticated,
        "malformed",
    )
    .await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let bytes = base64::Engine::decode(&b64, signature).expect("base64");
    let short = base64::Engine::encode(&b64, &bytes[..bytes.len() - 3]);
    s.refused(
        &format!("{message}.{short}"),
        Code::Unauthenticated,
        "bad_signature",
    )
    .await;
}

#[tokio::test]
async fn case_04_ecdsa_signature_of_zeros_is_refused() {
    let s = setup().await;
    let token = s.issuer().token("es-1", &s.claims());
    let message = token.rsplit_once('.').expect("compact").0;
    let zeros =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, [0u8; 64]);
    s.refused(
        &format!("{message}.{zeros}"),
        Code::Unauthenticated,
        "bad_signature",
    )
    .await;
}

#[tokio::test]
async fn case_05_keys_supplied_in_the_token_are_ignored() {
    let s = setup().await;
    let attacker = TestIssuer::new();
    let fetches = s.keys.fetches();
    let mut forged = header("ES256", "es-1");
    forged["jwk"] = attacker.jwk("es-1");
    forged["jku"] = json!("https://127.0.0.2:9/jwks.json");
    forged["x5u"] = json!("https://127.0.0.2:9/cert.pem");
    forged["x5c"] = json!(["MIIBszCCAVmgAwIBAgIUUdI="]);
    let token = attacker.token_with_header("es-1", &forged, &s.claims());
    s.refused(&token, Code::Unauthenticated, "bad_signature")
        .await;
    assert_eq!(
        s.keys.fetches(),
        fetches,
        "no fetch because of a token header"
    );
}

#[tokio::test]
async fn case_06_odd_kids_are_refused_without_lookups() {
    let s = setup_with(|a| a.jwt.jwks_min_refresh_interval = Duration::from_secs(3600)).await;
    for kid in [
        "../../../../etc/passwd",
        "k' OR '1'='1",
        "a/b",
        &"k".repeat(2000),
    ] {
        let token = s
            .issuer()
            .token_with_header("es-1", &header("ES256", kid), &s.claims());
        s.refused(&token, Code::Unauthenticated, "bad_kid").await;
    }
    let token = s
        .issuer()
        .token_with_header("es-1", &header("ES256", "no-such-key"), &s.claims());
    s.refused(&token, Code::Unauthenticated, "unknown_kid")
        .await;
}

#[tokio::test]
async fn case_07_a_flood_of_random_kids_is_refused_and_refetches_stay_limited() {
    let s = setup_with(|a| a.jwt.jwks_min_refresh_interval = Duration::from_secs(3600)).await;
    let fetches = s.keys.fetches();
    let s = &s;
    let calls = (0..50).map(|i| {
        let token = s.issuer().token_with_header(
            "es-1",
            &header("ES256", &format!("random-{i}")),
            &s.claims(),
        );
        async move { s.call(&token).await }
    });
    for result in futures_util::future::join_all(calls).await {
        assert_eq!(result.expect_err("refused").code(), Code::Unauthenticated);
    }
    assert_eq!(s.failures("unknown_kid").await, 50.0);
    assert!(
        s.keys.fetches() <= fetches + 1,
        "at most one refetch in the interval, got {}",
        s.keys.fetches() - fetches
    );
    assert_eq!(s.probe.calls(), 0);
}

#[tokio::test]
async fn case_08_times_out_of_range_are_refused() {
    let s = setup().await;
    let now = mesh::jwt::Clock::now(&mesh::jwt::SystemClock).as_secs();
    let with = |field: &str, value: Value| {
        let mut claims = s.claims();
        claims[field] = value;
        s.issuer().token("es-1", &claims)
    };
    s.refused(
        &with("exp", json!(now - 31)),
        Code::Unauthenticated,
        "expired",
    )
    .await;
    let mut claims = s.claims();
    claims.as_object_mut().expect("object").remove("exp");
    s.refused(
        &s.issuer().token("es-1", &claims),
        Code::Unauthenticated,
        "malformed_claims",
    )
    .await;
    s.refused(
        &with("nbf", json!(now + 120)),
        Code::Unauthenticated,
        "not_yet_valid",
    )
    .await;
    s.refused(
        &with("iat", json!(now + 120)),
        Code::Unauthenticated,
        "iat_in_future",
    )
    .await;
    // Within the skew is fine.
    s.call(&with("exp", json!(now - 5)))
        .await
        .expect("inside the 30 s skew");
}

#[tokio::test]
async fn case_09_times_of_the_wrong_type_are_refused() {
    let s = setup().await;
    for (field, value) in [
        ("exp", json!("4102444800")),
        ("exp", Value::Null),
        ("exp", json!(1e300)),
        ("nbf", json!("0")),
        ("iat", json!(true)),
    ] {
        let mut claims = s.claims();
        claims[field] = value;
        s.refused(
            &s.issuer().token("es-1", &claims),
            Code::Unauthenticated,
            "malformed_claims",
        )
        .await;
    }
    let claims = s.claims().to_string().replace(
        &format!("\"exp\":{}", s.claims()["exp"]),
        "\"exp\":99999999999999999999999",
    );
    let token = s.issuer().token_from_raw(
        "es-1",
        header("ES256", "es-1").to_string().as_bytes(),
        claims.as_bytes(),
    );
    s.refused(&token, Code::Unauthenticated, "malformed_claims")
        .await;
}

#[tokio::test]
async fn case_10_wrong_issuer_or_audience_is_refused() {
    let s = setup().await;
    let mut claims = s.claims();
    claims["iss"] = json!("https://evil.example");
    s.refused(
        &s.issuer().token("es-1", &claims),
        Code::Unauthenticated,
        "wrong_issuer",
    )
    .await;
    let for_payments = s.issuer().claims("alice", &["payments"]);
    s.refused(
        &s.issuer().token("es-1", &for_payments),
        Code::Unauthenticated,
        "wrong_audience",
    )
    .await;
}

#[tokio::test]
async fn case_11_tokens_that_are_not_access_tokens_are_refused() {
    let s = setup().await;
    for typ in [json!("JWT"), json!("id_token+jwt"), Value::Null] {
        let mut h = header("ES256", "es-1");
        h["typ"] = typ;
        s.refused(
            &s.issuer().token_with_header("es-1", &h, &s.claims()),
            Code::Unauthenticated,
            "wrong_typ",
        )
        .await;
    }
    // A refresh token is opaque, not a JWS.
    s.refused(
        "rt_3kP9xQ2vLm8nB4cT7wYz1A",
        Code::Unauthenticated,
        "malformed",
    )
    .await;
}

#[tokio::test]
async fn case_12_unknown_crit_is_refused() {
    let s = setup().await;
    let mut h = header("ES256", "es-1");
    h["crit"] = json!(["urn:example:must-understand"]);
    h["urn:example:must-understand"] = json!(true);
    s.refused(
        &s.issuer().token_with_header("es-1", &h, &s.claims()),
        Code::Unauthenticated,
        "unsupported_crit",
    )
    .await;
}

#[tokio::test]
async fn case_13_malformed_compact_forms_are_refused() {
    let s = setup().await;
    let token = s.issuer().token("es-1", &s.claims());
    let parts: Vec<&str> = token.split('.').collect();
    for bad in [
        format!("{}.{}", parts[0], parts[1]),
        format!("{token}.{}", parts[2]),
        format!("{}.{}.{}.{}.{}", parts[0], "", parts[1], "", parts[2]),
        format!("{}.{}+/.{}", parts[0], parts[1], parts[2]),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        json!({"payload": parts[1], "signatures": [{"protected": parts[0], "signature": parts[2]}]}).to_string(),
    ] {
        s.refused(&bad, Code::Unauthenticated, "malformed").await;
    }
}

#[tokio::test]
async fn case_14_oversized_tokens_are_refused_before_decoding() {
    let s = setup().await;
    let mut claims = s.claims();
    claims["padding"] = json!("x".repeat(9 * 1024));
    s.refused(
        &s.issuer().token("es-1", &claims),
        Code::Unauthenticated,
        "token_too_large",
    )
    .await;
    s.refused(&"a".repeat(9000), Code::Unauthenticated, "token_too_large")
        .await;
}

#[tokio::test]
async fn case_15_two_authorization_values_are_refused() {
    let s = setup().await;
    let token = s.issuer().token("es-1", &s.claims());
    let error = s
        .call_with(&[format!("Bearer {token}"), format!("Bearer {token}")])
        .await
        .expect_err("refused");
    assert_eq!(error.code(), Code::Unauthenticated);
    assert_eq!(s.failures("multiple_authorization").await, 1.0);
    let error = s
        .call_with(&[format!("Basic {token}")])
        .await
        .expect_err("refused");
    assert_eq!(error.code(), Code::Unauthenticated);
    assert_eq!(s.probe.calls(), 0);
}

#[tokio::test]
async fn case_16_rotation_new_keys_are_accepted_and_retired_ones_refused() {
    let s = setup_with(|a| a.jwt.jwks_min_refresh_interval = Duration::from_millis(1)).await;
    let old = s.issuer().token("es-1", &s.claims());
    s.call(&old).await.expect("current key");

    // A new key is accepted once published: one refresh, triggered by its kid.
    s.issuer().add_key("es-2", "ES256");
    let fetches = s.keys.fetches();
    let new = s.issuer().token("es-2", &s.claims());
    s.call(&new).await.expect("newly published key");
    assert_eq!(s.keys.fetches(), fetches + 1, "exactly one refresh");

    // A retired key's tokens stop working once the JWKS drops it, cached or not.
    s.issuer().remove_key("es-1");
    let trigger =
        s.issuer()
            .token_with_header("es-2", &header("ES256", "unpublished"), &s.claims());
    s.call(&trigger)
        .await
        .expect_err("unknown kid triggers a refresh");
    s.refused(&old, Code::Unauthenticated, "unknown_kid").await;
    s.call(&new).await.expect("the new key still works");
}

#[tokio::test]
async fn scopes_and_roles_come_from_the_policy_table() {
    let s = setup().await;
    let channel = raw_channel(
        &(&s.pki.files("gateway")).into(),
        &s.pki.dir().ca_cert(),
        s.echo.grpc_addr,
    );
    let call = |claims: Value| {
        let mut request = tonic::Request::new(ExchangeTokenRequest::default());
        let value = format!("Bearer {}", s.issuer().token("es-1", &claims));
        request
            .metadata_mut()
            .insert("authorization", value.parse().expect("header"));
        let mut client = AuthClient::new(channel.clone());
        async move { client.exchange_token(request).await }
    };
    let error = call(s.claims())
        .await
        .expect_err("USER without scope admin");
    assert_eq!(error.code(), Code::PermissionDenied);
    assert!(error.message().contains("admin"), "{error:?}");
    let mut claims = s.claims();
    claims["scope"] = json!("admin");
    let error = call(claims.clone())
        .await
        .expect_err("scope but not the role");
    assert_eq!(error.code(), Code::PermissionDenied);
    claims["roles"] = json!(["ADMIN"]);
    call(claims).await.expect("scope and role");
    let text = scrape(&s.echo).await;
    assert_eq!(
        metric(&text, "mesh_authz_denied_total", "reason=\"missing_scope\""),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "mesh_authz_denied_total", "reason=\"missing_role\""),
        1.0,
        "{text}"
    );
}
