-- The payments workload's state. Amounts are integer minor units; times
-- are RFC 3339 UTC text. Plain SQL that SQLite and Postgres both run.

-- One row per charge, written before the account is debited, so a charge
-- interrupted by a crash is found and finished by the next request with
-- the same idempotency key.
CREATE TABLE payments (
    id              TEXT PRIMARY KEY NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
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
    updated_at      TEXT NOT NULL
);
CREATE INDEX payments_by_owner ON payments (owner, id);

-- One row per refund request, written before the account is credited.
CREATE TABLE refunds (
    id              TEXT PRIMARY KEY NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payment_id      TEXT NOT NULL REFERENCES payments (id),
    reason          TEXT NOT NULL,
    requested_by    TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('PENDING', 'DONE', 'REFUSED')),
    -- Why accounts refused the credit; empty otherwise.
    refusal         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
