-- The orders workload's state. Amounts are integer minor units; times are
-- RFC 3339 UTC text. Plain SQL that SQLite and Postgres both run.

-- An order is written PENDING before payments is called, and settled once:
-- PENDING -> PAID | DECLINED, and PAID -> CANCELLING -> CANCELLED when it is
-- cancelled and refunded. PENDING and CANCELLING rows are unfinished work
-- that is resumed after a restart.
CREATE TABLE orders (
    id              TEXT PRIMARY KEY NOT NULL,
    -- The token subject that placed the order.
    owner           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 of the request, to tell a retry from a reused key.
    request_hash    TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    -- Computed by the server from the items.
    amount_minor    BIGINT NOT NULL CHECK (amount_minor > 0),
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL
        CHECK (status IN ('PENDING', 'PAID', 'DECLINED', 'CANCELLING', 'CANCELLED')),
    payment_id      TEXT NOT NULL,
    decline_reason  TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (owner, idempotency_key)
);
CREATE INDEX orders_by_owner ON orders (owner, id);
CREATE INDEX orders_unfinished ON orders (status, id)
    WHERE status IN ('PENDING', 'CANCELLING');

CREATE TABLE order_items (
    order_id         TEXT NOT NULL REFERENCES orders (id),
    position         INTEGER NOT NULL,
    sku              TEXT NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL CHECK (unit_price_minor > 0),
    PRIMARY KEY (order_id, position)
);
