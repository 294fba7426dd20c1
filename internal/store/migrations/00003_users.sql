-- Users and API keys of the HTTP service (interp serve), who owns each
-- conversation, and the model tokens each user spent per day, for quotas.
-- Keys are stored as SHA-256 hashes: they are 32 random bytes, so a plain
-- hash is as good as a slow one. The prefix identifies a key to people and
-- finds its row; the hash is then compared in constant time.

-- +goose Up
CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL DEFAULT '',
    prefix       TEXT NOT NULL, -- the key's first characters, shown to people
    hash         TEXT NOT NULL, -- sha256 of the whole key, hex
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_prefix ON api_keys (prefix);
CREATE INDEX api_keys_user ON api_keys (user_id);

-- NULL for conversations recorded by the CLI: they belong to no user.
ALTER TABLE conversations ADD COLUMN user_id TEXT;
CREATE INDEX conversations_user ON conversations (user_id, updated_at);

CREATE TABLE token_usage (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day     TEXT NOT NULL, -- YYYY-MM-DD, UTC
    tokens  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);

-- +goose Down
DROP TABLE token_usage;
DROP INDEX conversations_user;
ALTER TABLE conversations DROP COLUMN user_id;
DROP TABLE api_keys;
DROP TABLE users;
