//! Case 50 across the upgrade that scoped idempotency keys: a charge and a
//! refund recorded before it (scope '') still answer their retries, once,
//! and the rebuilt tables keep every row and the payment a refund names.

use std::time::Duration;

use mesh::testing::{TestPki, spawn_service, sqlite_at_version, start_key_server};
use mesh_proto::payments::v1::{PaymentStatus, RefundRequest, payments_client::PaymentsClient};

use crate::fixture::{charge, charge_request};

/// The last migration before keys were scoped.
const UNSCOPED: i64 = 20261201000001;

/// The account, and the captured and the refunded payment, of [`ROWS`].
const ACCOUNT: &str = "01a20000-0000-7000-8000-00000000000a";
const PAID: &str = "01a20000-0000-7000-8000-000000000001";
const REFUNDED: &str = "01a20000-0000-7000-8000-000000000002";

/// A captured charge under `order-1`, and a refunded one under `order-2`
/// with its refund under `cancel-2`, as the unscoped schema stored them.
const ROWS: &str = "
INSERT INTO payments VALUES
 ('01a20000-0000-7000-8000-000000000001', 'order-1', '01a20000-0000-7000-8000-00000000000a', 'alice', 300, 'EUR', 'order for order-1', 'CAPTURED', '', NULL,
  '2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z'),
 ('01a20000-0000-7000-8000-000000000002', 'order-2', '01a20000-0000-7000-8000-00000000000a', 'alice', 200, 'EUR', 'order for order-2', 'REFUNDED', '', '01a20000-0000-7000-8000-0000000000f2',
  '2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z');
INSERT INTO refunds VALUES
 ('01a20000-0000-7000-8000-0000000000f2', 'cancel-2', '01a20000-0000-7000-8000-000000000002', 'cancelled', 'spiffe://mesh.local/orders', 'DONE', '',
  '2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z');
";

#[tokio::test]
async fn case_50_requests_recorded_before_keys_were_scoped_still_replay() {
    let pki = TestPki::new();
    let (auth, keys) = start_key_server(&pki).await;
    let data = tempfile::tempdir().expect("temp dir");
    let dir = data.path().join("payments");
    sqlite_at_version(
        &dir,
        "payments.db",
        &sqlx::migrate!("./migrations"),
        UNSCOPED,
        ROWS,
    )
    .await;
    let domain = payments::PaymentsArgs {
        data_dir: dir,
        // Replays need no accounts: nothing answers here.
        accounts_addr: "127.0.0.1:9".to_owned(),
        resume_interval: Duration::from_secs(3600),
        resume_after: Duration::from_secs(3600),
    };
    let payments = spawn_service(mesh::PAYMENTS, pki.service_args("payments", &auth), {
        async |server| payments::service(server, domain).await
    })
    .await;
    let token = keys
        .issuer
        .token("es-1", &keys.issuer.claims("alice", &["payments"]));
    let mut orders =
        PaymentsClient::new(pki.authed_channel("orders", Some(&token), payments.grpc_addr));

    let replayed = charge(&mut orders, charge_request(ACCOUNT, 300, "order-1"))
        .await
        .expect("the recorded charge");
    assert_eq!(
        (replayed.payment_id.as_str(), replayed.status()),
        (PAID, PaymentStatus::Captured)
    );
    let reused = charge(&mut orders, charge_request(ACCOUNT, 999, "order-1"))
        .await
        .expect_err("same key, another amount");
    assert_eq!(reused.code(), tonic::Code::AlreadyExists);
    let refunded = orders
        .refund(RefundRequest {
            payment_id: REFUNDED.to_owned(),
            idempotency_key: "cancel-2".to_owned(),
            reason: "cancelled".to_owned(),
        })
        .await
        .expect("the recorded refund")
        .into_inner();
    assert_eq!(
        (refunded.payment_id.as_str(), refunded.status()),
        (REFUNDED, PaymentStatus::Refunded)
    );
}
