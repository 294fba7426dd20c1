package server

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
)

// The types below describe the events of the two streams in the OpenAPI
// document, one schema per event type, so that generated clients get one
// type each. The server sends event.Event and event.Task, whose JSON
// they match field for field; TestEventSchemas checks that.

// StdoutEvent is text the code wrote to standard output.
type StdoutEvent struct {
	Type string `json:"type" enum:"stdout" doc:"stdout."`
	Text string `json:"text" doc:"The text, as it was written: a piece of a line, or several lines."`
	Cell string `json:"cell,omitempty" doc:"The ID of the cell that wrote it."`
	Step int    `json:"step,omitempty" doc:"In a task's stream: the step of the model whose code wrote it, from 1."`
}

// StderrEvent is text the code wrote to standard error.
type StderrEvent struct {
	Type string `json:"type" enum:"stderr" doc:"stderr."`
	Text string `json:"text" doc:"The text, as it was written: a piece of a line, or several lines."`
	Cell string `json:"cell,omitempty" doc:"The ID of the cell that wrote it."`
	Step int    `json:"step,omitempty" doc:"In a task's stream: the step of the model whose code wrote it, from 1."`
}

// DisplayEvent is a rich result: the value of the cell's last expression,
// a figure, or what display() showed.
type DisplayEvent struct {
	Type     string         `json:"type" enum:"display" doc:"display."`
	Data     map[string]any `json:"data" doc:"A MIME bundle: MIME type to content. Text types (text/plain, text/html, image/svg+xml) are strings; binary ones (image/png, image/jpeg) are base64 strings; application/json is any JSON."`
	Metadata map[string]any `json:"metadata,omitempty" doc:"Metadata by MIME type, as Jupyter's (for example an image's width and height)."`
	Cell     string         `json:"cell,omitempty" doc:"The ID of the cell that displayed it."`
	Step     int            `json:"step,omitempty" doc:"In a task's stream: the step of the model whose code displayed it, from 1."`
}

// ErrorEvent is an exception the code raised, or a failure around it.
type ErrorEvent struct {
	Type      string   `json:"type" enum:"error" doc:"error."`
	EName     string   `json:"ename" doc:"The exception's class name, such as ZeroDivisionError or KeyboardInterrupt; WorkspaceQuotaExceeded when the execution left the workspaces over their quota."`
	EValue    string   `json:"evalue,omitempty" doc:"The exception's message; absent when it has none."`
	Traceback []string `json:"traceback,omitempty" doc:"The traceback's lines, the user's own frames only, without terminal colours."`
	Cell      string   `json:"cell,omitempty" doc:"The ID of the cell that raised it."`
	Step      int      `json:"step,omitempty" doc:"In a task's stream: the step of the model whose code raised it, from 1."`
}

// FileEvent is a file of the workspace that the code created, modified or
// deleted.
type FileEvent struct {
	Type   string `json:"type" enum:"file" doc:"file."`
	Path   string `json:"path" doc:"The file's path, relative to the workspace."`
	Size   int64  `json:"size,omitempty" doc:"Its size in bytes after the cell; absent when 0 or deleted."`
	Change string `json:"change" enum:"created,modified,deleted" doc:"What happened to it."`
	Cell   string `json:"cell,omitempty" doc:"The ID of the cell that changed it."`
	Step   int    `json:"step,omitempty" doc:"In a task's stream: the step of the model whose code changed it, from 1."`
}

// InstallEvent reports a package install, before or after the code runs.
type InstallEvent struct {
	Type    string  `json:"type" enum:"install" doc:"install."`
	Phase   string  `json:"phase" enum:"resolving,downloading,installed,failed" doc:"Where the install is: resolving what to install, downloading, installed, or failed."`
	Package string  `json:"package,omitempty" doc:"The distribution's name on the package index."`
	Version string  `json:"version,omitempty" doc:"The version installed, once known."`
	Bytes   int64   `json:"bytes,omitempty" doc:"Bytes downloaded so far, while downloading: of package, or of all the packages in flight when package names several."`
	Total   int64   `json:"total,omitempty" doc:"While downloading: the whole size in bytes of what bytes counts, when the index said."`
	ETA     float64 `json:"eta,omitempty" doc:"While downloading: the estimated seconds left, once a rate is known."`
	Message string  `json:"message,omitempty" doc:"What happened, for people: why an install failed, for one."`
	Cell    string  `json:"cell,omitempty" doc:"The ID of the cell the install is for."`
	Step    int     `json:"step,omitempty" doc:"In a task's stream: the step of the model whose code needed it, from 1."`
}

// DoneEvent ends a cell: always the last event of an execution.
type DoneEvent struct {
	Type           string  `json:"type" enum:"done" doc:"done."`
	Status         string  `json:"status" enum:"ok,error,interrupted,timeout,died,declined" doc:"How the cell ended: ok; error (it raised); interrupted; timeout (over its time limit); died (the Python process ended: see reason; the next execution restarts it, with the variables gone and the files kept); declined (in a task, the person skipped the code: it never ran)."`
	Reason         string  `json:"reason,omitempty" doc:"Why the cell or the session ended badly, for people: the memory limit, a signal, the time limit."`
	Duration       float64 `json:"duration,omitempty" doc:"Wall-clock time of the cell, in seconds."`
	CPUTime        float64 `json:"cpu_time,omitempty" doc:"CPU time the cell used, in seconds."`
	PeakMemory     int64   `json:"peak_memory,omitempty" doc:"The session's peak memory so far, in bytes."`
	ExecutionCount int     `json:"execution_count,omitempty" doc:"The cell's number in the session, from 1, as Jupyter's In [n]."`
	Cell           string  `json:"cell,omitempty" doc:"The cell's ID."`
	Step           int     `json:"step,omitempty" doc:"In a task's stream: the step of the model whose code this was, from 1."`
}

// MessageEvent is a piece of the model's text, as it streams.
type MessageEvent struct {
	Type string `json:"type" enum:"message" doc:"message."`
	Text string `json:"text" doc:"The next piece of the model's text: join the pieces of a step to get its message."`
	Step int    `json:"step" doc:"The model's step, from 1."`
}

// CodeEvent is a piece of code, as the model writes it.
type CodeEvent struct {
	Type string `json:"type" enum:"code" doc:"code."`
	Text string `json:"text" doc:"The next piece of the code the model is writing; the tool event that follows has it whole."`
	Step int    `json:"step" doc:"The model's step, from 1."`
}

// ToolEvent is a tool call about to run, with its whole code.
type ToolEvent struct {
	Type     string   `json:"type" enum:"tool" doc:"tool."`
	Tool     string   `json:"tool" doc:"The tool's name: run_python."`
	Text     string   `json:"text,omitempty" doc:"The code about to run, whole."`
	Packages []string `json:"packages,omitempty" doc:"Packages the model asked to install first."`
	Step     int      `json:"step" doc:"The model's step, from 1."`
}

// AnswerEvent is the model's final answer.
type AnswerEvent struct {
	Type string `json:"type" enum:"answer" doc:"answer."`
	Text string `json:"text,omitempty" doc:"The answer, whole (its pieces came as message events)."`
	Step int    `json:"step,omitempty" doc:"The model's step, from 1."`
}

// StopEvent says the task ended without an answer.
type StopEvent struct {
	Type   string `json:"type" enum:"stop" doc:"stop."`
	Status string `json:"status,omitempty" doc:"Why, as a word: max_steps, max_failures, repeated_error, token_budget, stopped, refused or provider_error (as the result event's stop)."`
	Reason string `json:"reason,omitempty" doc:"Why, for people."`
	Step   int    `json:"step,omitempty" doc:"The last step, from 1."`
}

// ResultEvent ends a task's stream: how the task ended. It is TaskResult.
type ResultEvent struct {
	Type           string    `json:"type" enum:"result" doc:"result."`
	ConversationID string    `json:"conversation_id" doc:"The conversation the task is recorded in: give it to the next task to continue."`
	TaskID         string    `json:"task_id,omitempty" doc:"The task's ID in the history."`
	SessionID      string    `json:"session_id" doc:"The session the code ran in."`
	Stop           string    `json:"stop" doc:"Why the task ended: answer, max_steps, max_failures, repeated_error, token_budget, stopped, refused (a quota, such as the workspace's, refused more code), provider_error, or failed."`
	Reason         string    `json:"reason,omitempty" doc:"Why, for people, when the task ended without an answer."`
	Answer         string    `json:"answer,omitempty" doc:"The model's final answer."`
	Steps          int       `json:"steps" doc:"How many times the model was called."`
	Usage          llm.Usage `json:"usage" doc:"The tokens the task used."`
}

// eventType is one event's type, the Go type that describes it, and
// what it is.
type eventType struct {
	name string
	v    any
	doc  string
}

// The event schemas of each stream.
var (
	executionEventTypes = []eventType{
		{event.Install, InstallEvent{}, "A package install, before the code runs (or after a ModuleNotFoundError)."},
		{event.Stdout, StdoutEvent{}, "Text the code wrote to standard output."},
		{event.Stderr, StderrEvent{}, "Text the code wrote to standard error."},
		{event.Display, DisplayEvent{}, "A rich result: the value of the cell's last expression, a figure, or what display() showed."},
		{event.Error, ErrorEvent{}, "An exception the code raised, or a failure around it."},
		{event.File, FileEvent{}, "A file of the workspace the code created, modified or deleted."},
		{event.Done, DoneEvent{}, "The end of a cell: always the last event of an execution."},
	}
	taskEventTypes = append(executionEventTypes[:len(executionEventTypes):len(executionEventTypes)],
		eventType{event.Message, MessageEvent{}, "A piece of the model's text, as it streams."},
		eventType{event.Code, CodeEvent{}, "A piece of code, as the model writes it."},
		eventType{event.Tool, ToolEvent{}, "A tool call about to run, with its whole code (again, with the edit, when the person edited it)."},
		eventType{"confirm", ConfirmEvent{}, "In a task started with confirm: code waiting for POST /v1/conversations/{id}/confirm to say run, edit or skip."},
		eventType{event.Answer, AnswerEvent{}, "The model's final answer."},
		eventType{event.Stop, StopEvent{}, "The task ended without an answer."},
		eventType{"result", ResultEvent{}, "How the task ended: always the last event of a task."})
)

// eventUnion registers each event type's schema and a union of them named
// name: a oneOf with a discriminator on type. It returns a reference to
// the union.
func (s *Server) eventUnion(name, desc string, types []eventType) *huma.Schema {
	reg := s.api.OpenAPI().Components.Schemas
	u := &huma.Schema{Description: desc, Discriminator: &huma.Discriminator{PropertyName: "type", Mapping: map[string]string{}}}
	for _, t := range types {
		ref := s.schemaOf(t.v)
		if sc := reg.Map()[ref.Ref[len("#/components/schemas/"):]]; sc != nil {
			sc.Description = t.doc
		}
		u.OneOf = append(u.OneOf, ref)
		u.Discriminator.Mapping[t.name] = ref.Ref
	}
	reg.Map()[name] = u
	return &huma.Schema{Ref: "#/components/schemas/" + name}
}

// sseResponse documents a stream of Server-Sent Events whose data are one
// of the union's events.
func sseResponse(desc string, union *huma.Schema, resume string) *huma.Response {
	name := union.Ref[len("#/components/schemas/"):]
	return &huma.Response{
		Description: desc,
		Headers: map[string]*huma.Param{
			"X-Stream-ID": {Description: "The stream's ID: " + resume, Schema: &huma.Schema{Type: "string"}},
		},
		Content: map[string]*huma.MediaType{
			"text/event-stream": {
				Schema: &huma.Schema{
					Type: "string",
					Description: "Server-Sent Events. Each event has an `id:` line (its number in the stream, from 1), an `event:` line " +
						"(the type), and one `data:` line: a JSON object of the schema " + name + ", whose `type` is the event line's. " +
						"Comment lines (`: keep-alive`) keep an idle stream open.",
				},
				Extensions: map[string]any{"x-event-schema": union},
			},
		},
	}
}
