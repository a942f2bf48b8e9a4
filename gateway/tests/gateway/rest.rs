//! REST/JSON through the gateway: routes from the annotations, path and
//! query parameters, bodies, and the same result as the gRPC call.

use serde_json::json;

use crate::fixture::Stack;

#[tokio::test]
async fn every_route_shape_reaches_the_service() {
    let s = Stack::start().await;
    let token = s.token("alice");

    let created = s
        .call(
            "POST",
            "/v1/orders",
            &token,
            r#"{"accountId":"a-1","currency":"EUR","idempotencyKey":"k1","items":[{"sku":"tea","quantity":2,"unitPriceMinor":"625"}]}"#,
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.header("content-type"), Some("application/json"));
    let order = created.json();
    assert_eq!(order["orderId"], "o-k1");
    assert_eq!(order["owner"], "alice");
    assert_eq!(order["status"], "ORDER_STATUS_PAID");
    assert_eq!(
        order["amountMinor"], "1250",
        "64-bit integers are strings in proto3 JSON"
    );
    assert_eq!(order["items"][0]["unitPriceMinor"], "625");

    let got = s.call("GET", "/v1/orders/o%2D7", &token, "").await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(
        got.json()["orderId"],
        "o-7",
        "path variables are percent-decoded"
    );

    let listed = s
        .call("GET", "/v1/orders?pageSize=3&page_token=p2", &token, "")
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.json()["orders"].as_array().map(Vec::len), Some(3));
    assert_eq!(listed.json()["nextPageToken"], "after-p2");

    let cancelled = s
        .call(
            "POST",
            "/v1/orders/o-9:cancel",
            &token,
            r#"{"reason":"changed my mind"}"#,
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.json()["status"], "ORDER_STATUS_CANCELLED");
    assert_eq!(s.orders.calls(), 4);
}

#[tokio::test]
async fn service_errors_become_problem_json() {
    let s = Stack::start().await;
    let reply = s
        .call("GET", "/v1/orders/missing", &s.token("alice"), "")
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(reply.json()["status"], 404);
    assert_eq!(reply.json()["detail"], "no such order");
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problems() {
    let s = Stack::start().await;
    let token = s.token("alice");
    let reply = s.call("GET", "/v1/nothing", &token, "").await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    let reply = s.call("DELETE", "/v1/orders", &token, "").await;
    assert_eq!(reply.status, 405);
    assert_eq!(s.orders.calls(), 0);
}

#[tokio::test]
async fn openapi_lists_every_operation_with_its_security() {
    let s = Stack::start().await;
    let reply = s.rest("GET /openapi.json HTTP/1.1\r\n", "").await;
    assert_eq!(reply.status, 200);
    let doc = reply.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let mut operations = Vec::new();
    for (path, methods) in doc["paths"].as_object().expect("paths") {
        for (method, op) in methods.as_object().expect("methods") {
            assert_eq!(
                op["security"],
                json!([{"bearerAuth": []}]),
                "{method} {path}"
            );
            operations.push(op["operationId"].as_str().expect("operationId").to_owned());
        }
    }
    operations.sort();
    let expected = [
        "CancelOrder",
        "CreateOrder",
        "Deposit",
        "FreezeAccount",
        "GetAccount",
        "GetOrder",
        "GetPayment",
        "ListAccounts",
        "ListLedgerEntries",
        "ListOrders",
        "ListPayments",
        "OpenAccount",
        "Refund",
    ];
    assert_eq!(operations, expected);
    for internal in ["Debit", "Credit", "Charge"] {
        assert!(
            !operations.iter().any(|o| o == internal),
            "{internal} must not be published"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
}
