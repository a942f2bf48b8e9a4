-- The auth service's state. Times are seconds since the Unix epoch.

-- Signing keys: public half and lifecycle only. Private keys live in
-- <data-dir>/keys/<kid>.pk8 (mode 0600), never in the database.
CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY NOT NULL,
    alg             TEXT NOT NULL,
    public_jwk      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    -- Signs tokens from this time on ...
    activates_at    INTEGER NOT NULL,
    -- ... until a newer key takes over (NULL while it is the newest) ...
    signs_until     INTEGER,
    -- ... and stays in the JWKS until the last token it signed expired.
    published_until INTEGER
);

-- One family per login: every refresh token rotated from the first one.
-- Reusing a rotated token revokes the whole family.
CREATE TABLE refresh_families (
    id             TEXT PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL,
    subject        TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    -- Absolute end of the login: rotation does not extend it.
    expires_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoked_reason TEXT
);

-- Refresh tokens are opaque; only their SHA-256 is stored.
CREATE TABLE refresh_tokens (
    token_hash        BLOB PRIMARY KEY NOT NULL,
    family_id         TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    scope             TEXT NOT NULL,
    audience          TEXT NOT NULL,
    issued_at         INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    -- Set when the token is exchanged for a new one; a second use is reuse.
    used_at           INTEGER,
    -- The access token issued with it, revoked along with the family.
    access_jti        TEXT NOT NULL,
    access_expires_at INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

-- Access tokens revoked before they expire (RFC 7009), by `jti`.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);
CREATE INDEX refresh_families_by_expiry ON refresh_families (expires_at);
