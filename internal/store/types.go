package store

import (
	"time"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
)

// Conversation kinds.
const (
	KindChat = "chat" // an agent's tasks
	KindExec = "exec" // cells run without a model (interp exec)
)

// Sources: the front end that started a conversation, kept beside its
// kind so the history tells an `interp run` from an `interp chat`, and
// cells of the REPL from those of `interp exec`. Conversations recorded
// before sources were have none.
const (
	SourceRun   = "run"
	SourceChat  = "chat"
	SourceExec  = "exec"
	SourceREPL  = "repl"
	SourceMCP   = "mcp"
	SourceServe = "serve" // the HTTP API and the web UI
)

// Task statuses.
const (
	TaskRunning     = "running"
	TaskAnswered    = "answered"
	TaskStopped     = "stopped" // ended without an answer: Stop and Reason say why
	TaskInterrupted = "interrupted"
	TaskFailed      = "failed" // the loop could not work at all
)

// CellRunning is the status of a cell until its done event; then it takes
// the session's status (ok, error, interrupted, timeout, died), or
// "declined" when the user refused to run it.
const (
	CellRunning  = "running"
	CellDeclined = "declined"
)

// ConversationInfo describes a new conversation.
type ConversationInfo struct {
	Kind     string // KindChat if empty
	Source   string // one of the Source constants
	Title    string
	Provider string
	Model    string
	UserID   string // the owner; "" for nobody (the CLI's)
}

// Conversation is a conversation with everything recorded in it, in order.
type Conversation struct {
	ID        string        `json:"id"`
	Kind      string        `json:"kind"`
	Source    string        `json:"source,omitempty"`
	Title     string        `json:"title"`
	Provider  string        `json:"provider,omitempty"`
	Model     string        `json:"model,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	Bytes     int64         `json:"bytes"`
	History   []llm.Message `json:"history,omitempty"`
	Tasks     []Task        `json:"tasks,omitempty"`
	Cells     []Cell        `json:"cells,omitempty"`
	Events    []Event       `json:"events,omitempty"`
	Files     []File        `json:"files,omitempty"`
	Packages  []Package     `json:"packages,omitempty"`
}

// ConversationSummary is a line of ListConversations.
type ConversationSummary struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Source    string    `json:"source,omitempty"` // the front end that started it
	Title     string    `json:"title"`
	Provider  string    `json:"provider,omitempty"`
	Model     string    `json:"model,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Bytes     int64     `json:"bytes"`
	Tasks     int       `json:"tasks"`
	Cells     int       `json:"cells"`
	// Status is the last task's status, or the last cell's for exec.
	Status string `json:"status,omitempty"`
	// State says in a few words how the conversation's last task (or
	// cell) ended: "answered", "step limit", "out of memory", "time
	// limit", "interrupted", ...
	State string `json:"state,omitempty"`
}

// Task is one prompt and the agent's work on it.
type Task struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	Seq            int       `json:"seq"`
	Prompt         string    `json:"prompt"`
	Status         string    `json:"status"`
	Stop           string    `json:"stop,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	Answer         string    `json:"answer,omitempty"`
	Steps          int       `json:"steps"`
	TokensIn       int64     `json:"tokens_in"`
	TokensOut      int64     `json:"tokens_out"`
	StartedAt      time.Time `json:"started_at"`
	FinishedAt     time.Time `json:"finished_at,omitzero"`
	OwnerPID       int       `json:"owner_pid,omitempty"`
	OwnerHost      string    `json:"owner_host,omitempty"`
}

// Cell is one run of code.
type Cell struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	TaskID         string    `json:"task_id,omitempty"`
	Seq            int       `json:"seq"`
	Step           int       `json:"step,omitempty"`
	Code           string    `json:"code"`
	Status         string    `json:"status"`
	Reason         string    `json:"reason,omitempty"`
	ExecutionCount int       `json:"execution_count,omitempty"`
	Duration       float64   `json:"duration"`    // seconds
	CPUTime        float64   `json:"cpu_time"`    // seconds
	PeakMemory     int64     `json:"peak_memory"` // bytes
	StartedAt      time.Time `json:"started_at"`
	FinishedAt     time.Time `json:"finished_at,omitzero"`
}

// TaskResult is how a task ended: the agent's result, for Finish.
type TaskResult = event.Result

// Event is one recorded event: the agent's or session's event as it was
// emitted, with its place in the conversation.
type Event struct {
	Seq    int64     `json:"seq"`
	TaskID string    `json:"task_id,omitempty"`
	CellID string    `json:"cell_id,omitempty"`
	At     time.Time `json:"at"`
	event.Task
	// Blobs lists the fields that were kept in the blob store. GetConversation
	// puts their content back into the event.
	Blobs []BlobRef `json:"blobs,omitempty"`
}

// BlobRef is an event field kept in the blob store.
type BlobRef struct {
	// Field is "text" or "data:MIME".
	Field string `json:"field"`
	Hash  string `json:"hash"`
	Size  int64  `json:"size"`
	// Encoding is "base64" when the event held the content as base64 (the
	// blob holds the decoded bytes), else "text".
	Encoding string `json:"encoding"`
}

// File is a file the code created, changed or deleted.
type File struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	TaskID         string    `json:"task_id,omitempty"`
	CellID         string    `json:"cell_id,omitempty"`
	Seq            int64     `json:"seq"`
	Path           string    `json:"path"`
	Size           int64     `json:"size"`
	SHA256         string    `json:"sha256,omitempty"` // "" when the content was not kept
	Change         string    `json:"change"`
	Note           string    `json:"note,omitempty"` // why the content was not kept
	CreatedAt      time.Time `json:"created_at"`
}

// Package is a package install that ended, installed or failed.
type Package struct {
	ConversationID string `json:"conversation_id"`
	Seq            int64  `json:"seq"`
	TaskID         string `json:"task_id,omitempty"`
	CellID         string `json:"cell_id,omitempty"`
	Name           string `json:"name"`
	Version        string `json:"version,omitempty"`
	Phase          string `json:"phase"`
	Message        string `json:"message,omitempty"`
}
