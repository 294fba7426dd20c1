-- Conversations record the front end that started them (run, chat, exec,
-- repl, mcp, serve), beside their kind: "chat" or "exec" alone told a
-- user's `interp run` apart from an `interp chat` by nothing. Older rows
-- keep '' and are listed by their kind.

-- +goose Up
ALTER TABLE conversations ADD COLUMN source TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE conversations DROP COLUMN source;
