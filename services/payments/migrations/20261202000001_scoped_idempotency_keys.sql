-- Idempotency keys belong to their caller (case 50): a charge or refund is
-- found by (scope, key), the scope being the principal that owns the retry
-- (the token's subject at the edge, the calling workload's SPIFFE ID
-- inside the mesh), so nobody replays or squats another caller's key.
--
-- SQLite cannot drop a UNIQUE constraint in place, so both tables are
-- rebuilt (refunds references payments, so both at once). Rows recorded
-- before keys were scoped get scope '', which answers any caller as it did
-- before: a retry across the upgrade still has exactly one effect.

CREATE TABLE payments_scoped (
    id              TEXT PRIMARY KEY NOT NULL,
    scope           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    -- The subject that owns the account, as accounts reported it.
    owner           TEXT NOT NULL,
    amount_minor    BIGINT NOT NULL CHECK (amount_minor > 0),
    currency        TEXT NOT NULL,
    reference       TEXT NOT NULL,
    status          TEXT NOT NULL
        CHECK (status IN ('PENDING', 'CAPTURED', 'DECLINED', 'REFUNDED')),
    decline_reason  TEXT NOT NULL,
    -- The refund under way or done; at most one per payment.
    refund_id       TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (scope, idempotency_key)
);
INSERT INTO payments_scoped
    (id, scope, idempotency_key, account_id, owner, amount_minor, currency, reference,
     status, decline_reason, refund_id, created_at, updated_at)
SELECT id, '', idempotency_key, account_id, owner, amount_minor, currency, reference,
       status, decline_reason, refund_id, created_at, updated_at
FROM payments;

CREATE TABLE refunds_scoped (
    id              TEXT PRIMARY KEY NOT NULL,
    scope           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    payment_id      TEXT NOT NULL REFERENCES payments_scoped (id),
    reason          TEXT NOT NULL,
    requested_by    TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('PENDING', 'DONE', 'REFUSED')),
    -- Why accounts refused the credit; empty otherwise.
    refusal         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (scope, idempotency_key)
);
INSERT INTO refunds_scoped
    (id, scope, idempotency_key, payment_id, reason, requested_by, status, refusal,
     created_at, updated_at)
SELECT id, '', idempotency_key, payment_id, reason, requested_by, status, refusal,
       created_at, updated_at
FROM refunds;

DROP TABLE refunds;
DROP TABLE payments;
ALTER TABLE payments_scoped RENAME TO payments;
ALTER TABLE refunds_scoped RENAME TO refunds;
CREATE INDEX payments_by_owner ON payments (owner, id);
