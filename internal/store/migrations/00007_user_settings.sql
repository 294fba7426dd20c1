-- Each user's settings of the web UI (the model, limits for new sessions),
-- as a JSON document the service defines.

-- +goose Up
CREATE TABLE user_settings (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    settings   TEXT NOT NULL, -- JSON
    updated_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE user_settings;
