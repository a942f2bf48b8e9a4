-- Idempotency keys belong to their caller (case 50): a deposit, debit or
-- credit is found by (scope, kind, reference), the scope being the
-- principal that owns the retry (the token's subject at the edge, the
-- calling workload's SPIFFE ID inside the mesh), so one staff member's
-- deposit key neither replays nor blocks another's.
--
-- SQLite cannot change a primary key in place, so the table is rebuilt.
-- Rows recorded before keys were scoped get scope '', which answers any
-- caller as it did before: a retry across the upgrade still has exactly
-- one effect.

CREATE TABLE money_requests_scoped (
    scope        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    reference    TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    entry_id     TEXT REFERENCES ledger_entries (id),
    refusal      TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (scope, kind, reference),
    CHECK ((entry_id IS NULL) <> (refusal IS NULL))
);
INSERT INTO money_requests_scoped
    (scope, kind, reference, account_id, amount_minor, currency, entry_id, refusal, created_at)
SELECT '', kind, reference, account_id, amount_minor, currency, entry_id, refusal, created_at
FROM money_requests;
DROP TABLE money_requests;
ALTER TABLE money_requests_scoped RENAME TO money_requests;
