-- OAuth client secrets rotated at run time (`POST /admin/clients/{id}/secret`).
-- A row takes precedence over the config's secret for that client as long
-- as the config still gives the secret it was rotated from (`config_hash`):
-- an operator who changes the config's secret wins. It holds the current
-- secret's hash and, during a rotation's grace period, the previous one's
-- with the time it stops being accepted. Only argon2id hashes are stored,
-- never a secret.
CREATE TABLE client_secrets (
    client_id           TEXT PRIMARY KEY,
    current_hash        TEXT NOT NULL,
    previous_hash       TEXT,
    previous_expires_at INTEGER,
    rotated_at          INTEGER NOT NULL,
    -- The config's hash of the client's secret when the row was written.
    config_hash         TEXT NOT NULL,
    CHECK ((previous_hash IS NULL) = (previous_expires_at IS NULL))
);
