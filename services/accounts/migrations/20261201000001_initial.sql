-- The accounts workload's state. Amounts are integer minor units (cents);
-- times are RFC 3339 UTC text. Plain SQL that SQLite and Postgres both run.

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY NOT NULL,
    -- The token subject that opened the account.
    owner         TEXT NOT NULL,
    currency      TEXT NOT NULL,
    -- Changed only together with a ledger entry, in the same transaction.
    balance_minor BIGINT NOT NULL CHECK (balance_minor >= 0),
    status        TEXT NOT NULL CHECK (status IN ('ACTIVE', 'FROZEN')),
    created_at    TEXT NOT NULL
);
CREATE INDEX accounts_by_owner ON accounts (owner, id);

-- Append-only: rows are inserted, never updated or deleted.
CREATE TABLE ledger_entries (
    id                  TEXT PRIMARY KEY NOT NULL,
    account_id          TEXT NOT NULL REFERENCES accounts (id),
    kind                TEXT NOT NULL CHECK (kind IN ('DEPOSIT', 'DEBIT', 'CREDIT')),
    -- Signed: negative for debits.
    amount_minor        BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    balance_after_minor BIGINT NOT NULL CHECK (balance_after_minor >= 0),
    -- Deposit idempotency key, payment id or refund id.
    reference           TEXT NOT NULL,
    created_at          TEXT NOT NULL
);
CREATE INDEX ledger_by_account ON ledger_entries (account_id, id);

-- Every idempotent request that moves money, and its first answer: the
-- entry it wrote, or why it was refused (debits and credits only). A
-- retry is compared with the request and gets the same answer.
CREATE TABLE money_requests (
    kind         TEXT NOT NULL,
    reference    TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    entry_id     TEXT REFERENCES ledger_entries (id),
    refusal      TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (kind, reference),
    CHECK ((entry_id IS NULL) <> (refusal IS NULL))
);
