// Package event is Interp's event vocabulary: the types of the events a
// cell and a task stream, the statuses a cell ends with, the phases of a
// package install, the changes to a file and the reasons a task stops.
// The CLI's JSON Lines, the HTTP API's Server-Sent Events, MCP, the agent
// loop and the history all speak it, so it is a leaf: it imports nothing
// of Interp's, and everything else imports it rather than spelling the
// strings out.
package event

// Types of a cell's events.
const (
	Stdout  = "stdout"
	Stderr  = "stderr"
	Display = "display"
	Error   = "error"
	File    = "file"
	Done    = "done"
	// Install reports a package install: the dependency installer emits
	// it into the same stream as the cell's events.
	Install = "install"
)

// Types of a task's own events, beside a cell's.
const (
	Message = "message" // the model's text, as it streams
	Code    = "code"    // the code, as the model writes it
	Tool    = "tool"    // a tool call about to run, with its whole code
	Answer  = "answer"  // the final answer
	Stop    = "stop"    // the task ended without an answer; Reason says why
)

// Statuses of a finished cell, a done event's Status.
const (
	StatusOK          = "ok"
	StatusError       = "error"
	StatusInterrupted = "interrupted"
	StatusTimeout     = "timeout"
	StatusDied        = "died" // the Python process ended; see Reason
	// StatusDeclined is a cell that never ran: the user or a quota said
	// no. A done event carries it when the user skipped the code and the
	// task went on.
	StatusDeclined = "declined"
)

// Reasons a died cell gives for the limits that end a process, a done
// event's Reason; other deaths are described in words ("the Python
// process crashed (segmentation fault)").
const (
	ReasonMemory  = "memory limit exceeded"
	ReasonCPUTime = "CPU time limit exceeded"
)

// Phases of a package install, an install event's Phase.
const (
	PhaseResolving   = "resolving"
	PhaseDownloading = "downloading"
	PhaseInstalled   = "installed"
	PhaseFailed      = "failed"
)

// Changes to a workspace file, a file event's Change.
const (
	Created  = "created"
	Modified = "modified"
	Deleted  = "deleted"
	// Uploaded is a file copied in from outside (interp -f) before code ran.
	Uploaded = "uploaded"
)

// Why a task ended, a stop event's Status.
const (
	StopAnswer        = "answer"
	StopMaxSteps      = "max_steps"
	StopMaxFailures   = "max_failures"
	StopRepeatedError = "repeated_error"
	StopTokenBudget   = "token_budget"
	StopUser          = "stopped"
	StopDeclined      = "declined"
	StopRefused       = "refused" // a limit the agent does not know, such as a quota, refused more code
	StopProvider      = "provider_error"
)

// Event is one thing that happened while a cell ran. Which fields are set
// depends on Type.
type Event struct {
	Type string `json:"type"`
	Cell string `json:"cell,omitempty"`

	// stdout, stderr
	Text string `json:"text,omitempty"`

	// display: a MIME bundle. Binary types are base64 strings.
	Data     map[string]any `json:"data,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`

	// error
	EName     string   `json:"ename,omitempty"`
	EValue    string   `json:"evalue,omitempty"`
	Traceback []string `json:"traceback,omitempty"`

	// file: a file the cell created or changed in the workspace.
	Path   string `json:"path,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Change string `json:"change,omitempty"` // Created, Modified, Deleted

	// install: Phase is one of the Phase constants.
	Phase   string `json:"phase,omitempty"`
	Package string `json:"package,omitempty"`
	Version string `json:"version,omitempty"`
	// Bytes is a downloading event's bytes fetched so far, of Package (of
	// all the packages in flight when Package names several).
	Bytes int64 `json:"bytes,omitempty"`
	// Total is a downloading event's whole size in bytes, when the index
	// said; ETA its estimated seconds left, once a rate is known.
	Total   int64   `json:"total,omitempty"`
	ETA     float64 `json:"eta,omitempty"`
	Message string  `json:"message,omitempty"`

	// done
	Status         string  `json:"status,omitempty"`
	Reason         string  `json:"reason,omitempty"`   // why the cell or session ended badly
	Duration       float64 `json:"duration,omitempty"` // seconds
	CPUTime        float64 `json:"cpu_time,omitempty"` // seconds
	PeakMemory     int64   `json:"peak_memory,omitempty"`
	ExecutionCount int     `json:"execution_count,omitempty"`
}

// Task is an event of a task: a cell's event or one of the task's own
// (Message, Code, Tool, Answer, Stop), with the step it belongs to.
type Task struct {
	Event
	Step int    `json:"step,omitempty"`
	Tool string `json:"tool,omitempty"`
	// Packages are those a tool call asked for.
	Packages []string `json:"packages,omitempty"`
}

// Usage counts a model's tokens.
type Usage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
	// Estimated says the counts are Interp's estimate, because the
	// server reported none.
	Estimated bool `json:"estimated,omitempty"`
}

// Add adds u2 to u; the sum is estimated if either part is.
func (u *Usage) Add(u2 Usage) {
	u.InputTokens += u2.InputTokens
	u.OutputTokens += u2.OutputTokens
	u.Estimated = u.Estimated || u2.Estimated
}

// Result is how a task ended: what the agent returns, and what the
// history records of it.
type Result struct {
	Answer string
	Stop   string // one of the Stop constants
	// Reason says in one line why a run stopped early.
	Reason string
	Steps  int
	// Unparsed lists the steps whose output was not well formed under
	// the protocol: a tool call whose arguments do not parse, a call
	// printed as text, an answer cut short, or, under the fenced
	// protocol, anything but one fenced block or a plain answer.
	Unparsed []int
	Usage    Usage
}
