-- The web UI's browser sessions, so that they outlive a restart of the
-- server. Only the SHA-256 of a session's cookie is stored: the cookie is
-- 32 random bytes, as a key is, so a plain hash is as good as a slow one.
-- A session signed in with an API key ends with the key (its row names
-- the key, never holds it).

-- +goose Up
CREATE TABLE web_sessions (
    hash       TEXT PRIMARY KEY, -- sha256 of the cookie, hex
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_id     TEXT REFERENCES api_keys (id) ON DELETE CASCADE, -- NULL for interp ui's one-time token
    csrf       TEXT NOT NULL, -- useless without the cookie
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- +goose Down
DROP TABLE web_sessions;
