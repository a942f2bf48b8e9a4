-- The revocation feed workloads follow (auth.v1.Revocations): every
-- revocation in the order it happened, so a follower asks only for what
-- is newer than the version it has. A row is either a token (`jti`) or a
-- subject's sessions (`subject`, `client_id`, `not_before`), and is pruned
-- once every token it refuses has expired (`expires_at`).
CREATE TABLE revocation_feed (
    -- AUTOINCREMENT: versions are never reused, even after pruning.
    version    INTEGER PRIMARY KEY AUTOINCREMENT,
    jti        TEXT,
    subject    TEXT,
    -- Empty: every client of the subject.
    client_id  TEXT NOT NULL DEFAULT '',
    -- Tokens of the subject with an earlier `iat` are refused.
    not_before INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL,
    CHECK ((jti IS NULL) <> (subject IS NULL))
);
CREATE INDEX revocation_feed_by_expiry ON revocation_feed (expires_at);
CREATE INDEX revocation_feed_by_subject ON revocation_feed (subject) WHERE subject IS NOT NULL;

-- Every revoked token reaches the feed, whichever code path revoked it
-- (RFC 7009, a refresh family, ...). INSERT OR IGNORE of a token already
-- revoked inserts nothing, so it is not repeated.
CREATE TRIGGER revoked_tokens_to_feed AFTER INSERT ON revoked_tokens
BEGIN
    INSERT INTO revocation_feed (jti, expires_at) VALUES (NEW.jti, NEW.expires_at);
END;

-- Names this database's feed: a follower holding versions of another feed
-- (the database was replaced) gets a full snapshot instead.
CREATE TABLE revocation_feed_id (id TEXT NOT NULL);
INSERT INTO revocation_feed_id (id) VALUES (lower(hex(randomblob(16))));

-- Tokens revoked before this migration join the feed too.
INSERT INTO revocation_feed (jti, expires_at) SELECT jti, expires_at FROM revoked_tokens;
