-- Roles of users, and the audit log of what matters for security: who
-- (user, key), did what (action), to what (target), when, from where, and
-- with which result. Secrets are never written here: a key appears only by
-- its ID or its public prefix.

-- +goose Up
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user';

CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,           -- Unix milliseconds
    user_id    TEXT NOT NULL DEFAULT '',  -- '' when unknown (failed auth, CLI)
    user_name  TEXT NOT NULL DEFAULT '',
    key_id     TEXT NOT NULL DEFAULT '',
    key_prefix TEXT NOT NULL DEFAULT '',
    action     TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT '',
    result     TEXT NOT NULL DEFAULT 'ok'
);
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_user ON audit_log (user_id, at);
CREATE INDEX audit_log_action ON audit_log (action, at);

-- +goose Down
DROP TABLE audit_log;
ALTER TABLE users DROP COLUMN role;
