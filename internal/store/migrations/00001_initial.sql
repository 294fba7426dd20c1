-- The history store's schema. It runs unchanged on SQLite and PostgreSQL:
-- only TEXT, BIGINT, INTEGER and DOUBLE PRECISION columns, times as Unix
-- milliseconds, JSON as TEXT, large content in the blob store.

-- +goose Up
CREATE TABLE conversations (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL DEFAULT 'chat', -- chat: an agent's tasks; exec: cells run without a model
    title       TEXT NOT NULL DEFAULT '',
    provider    TEXT NOT NULL DEFAULT '',
    model       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    history     TEXT NOT NULL DEFAULT '[]' -- the model's messages ([]llm.Message), to resume
);
CREATE INDEX conversations_updated ON conversations (updated_at);

CREATE TABLE tasks (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    prompt          TEXT NOT NULL,
    status          TEXT NOT NULL, -- running, answered, stopped, interrupted, failed
    stop            TEXT NOT NULL DEFAULT '', -- agent.Result.Stop
    reason          TEXT NOT NULL DEFAULT '',
    answer          TEXT NOT NULL DEFAULT '',
    steps           INTEGER NOT NULL DEFAULT 0,
    tokens_in       BIGINT NOT NULL DEFAULT 0,
    tokens_out      BIGINT NOT NULL DEFAULT 0,
    started_at      BIGINT NOT NULL,
    finished_at     BIGINT,
    owner_pid       INTEGER NOT NULL DEFAULT 0,
    owner_host      TEXT NOT NULL DEFAULT '',
    owner_start     TEXT NOT NULL DEFAULT '' -- tells a reused PID apart
);
CREATE UNIQUE INDEX tasks_conversation ON tasks (conversation_id, seq);

CREATE TABLE cells (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    task_id         TEXT REFERENCES tasks (id) ON DELETE CASCADE, -- NULL for exec cells
    seq             INTEGER NOT NULL,
    step            INTEGER NOT NULL DEFAULT 0,
    code            TEXT NOT NULL,
    status          TEXT NOT NULL, -- running, then a session status: ok, error, interrupted, timeout, died
    reason          TEXT NOT NULL DEFAULT '',
    execution_count INTEGER NOT NULL DEFAULT 0,
    duration        DOUBLE PRECISION NOT NULL DEFAULT 0, -- seconds
    cpu_time        DOUBLE PRECISION NOT NULL DEFAULT 0, -- seconds
    peak_memory     BIGINT NOT NULL DEFAULT 0,
    started_at      BIGINT NOT NULL,
    finished_at     BIGINT,
    owner_pid       INTEGER NOT NULL DEFAULT 0,
    owner_host      TEXT NOT NULL DEFAULT '',
    owner_start     TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX cells_conversation ON cells (conversation_id, seq);
CREATE INDEX cells_task ON cells (task_id);

-- Every event of a conversation, in order. task_id and cell_id carry no
-- foreign key: rows go with their conversation, and events are the hot path.
CREATE TABLE events (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    task_id         TEXT,
    cell_id         TEXT,
    type            TEXT NOT NULL,
    step            INTEGER NOT NULL DEFAULT 0,
    at              BIGINT NOT NULL,
    payload         TEXT NOT NULL, -- the event as JSON, large fields moved to event_blobs
    PRIMARY KEY (conversation_id, seq)
);

-- Content of the blob store, counted: a blob goes when no row uses it.
CREATE TABLE blobs (
    hash       TEXT PRIMARY KEY, -- sha256, hex
    size       BIGINT NOT NULL,
    refs       BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Fields of events stored in the blob store: images, long text.
CREATE TABLE event_blobs (
    conversation_id TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    field           TEXT NOT NULL, -- text, or data:MIME
    hash            TEXT NOT NULL,
    size            BIGINT NOT NULL,
    encoding        TEXT NOT NULL, -- text, or base64 when the event held base64
    PRIMARY KEY (conversation_id, seq, field),
    FOREIGN KEY (conversation_id, seq) REFERENCES events (conversation_id, seq) ON DELETE CASCADE
);

CREATE TABLE files (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    task_id         TEXT,
    cell_id         TEXT,
    seq             BIGINT NOT NULL, -- the file event
    path            TEXT NOT NULL,
    size            BIGINT NOT NULL DEFAULT 0,
    sha256          TEXT, -- NULL when the content was not kept
    change          TEXT NOT NULL, -- created, modified, deleted
    note            TEXT NOT NULL DEFAULT '', -- why the content was not kept
    created_at      BIGINT NOT NULL
);
CREATE INDEX files_conversation ON files (conversation_id, seq);

CREATE TABLE packages (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL, -- the install event
    task_id         TEXT,
    cell_id         TEXT,
    name            TEXT NOT NULL,
    version         TEXT NOT NULL DEFAULT '',
    phase           TEXT NOT NULL, -- installed or failed
    message         TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (conversation_id, seq)
);

-- +goose Down
DROP TABLE packages;
DROP TABLE files;
DROP TABLE event_blobs;
DROP TABLE blobs;
DROP TABLE events;
DROP TABLE cells;
DROP TABLE tasks;
DROP TABLE conversations;
