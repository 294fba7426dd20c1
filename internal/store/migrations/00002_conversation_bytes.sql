-- Conversations know their size, for retention by size and for listings;
-- existing rows are measured. Running tasks and cells get an index, for
-- RecoverInterrupted at every Open.

-- +goose Up
ALTER TABLE conversations ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;
UPDATE conversations SET bytes =
    octet_length(history)
    + COALESCE((SELECT SUM(octet_length(e.payload)) FROM events e WHERE e.conversation_id = conversations.id), 0)
    + COALESCE((SELECT SUM(b.size) FROM event_blobs b WHERE b.conversation_id = conversations.id), 0)
    + COALESCE((SELECT SUM(f.size) FROM files f WHERE f.conversation_id = conversations.id AND f.sha256 IS NOT NULL), 0);
CREATE INDEX tasks_running ON tasks (status) WHERE status = 'running';
CREATE INDEX cells_running ON cells (status) WHERE status = 'running';

-- +goose Down
DROP INDEX cells_running;
DROP INDEX tasks_running;
ALTER TABLE conversations DROP COLUMN bytes;
