package session

// Event types. They are the same in the CLI's JSON Lines, the HTTP API and
// the agent loop, which adds its own.
const (
	EventStdout  = "stdout"
	EventStderr  = "stderr"
	EventDisplay = "display"
	EventError   = "error"
	EventFile    = "file"
	EventDone    = "done"
	// EventInstall reports a package install: the dependency installer
	// emits it into the same stream as the cell's events.
	EventInstall = "install"
)

// Statuses of a finished cell.
const (
	StatusOK          = "ok"
	StatusError       = "error"
	StatusInterrupted = "interrupted"
	StatusTimeout     = "timeout"
	StatusDied        = "died" // the Python process ended; see Reason
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
	Change string `json:"change,omitempty"` // created, modified, deleted

	// install: Phase is resolving, downloading, installed or failed.
	Phase   string `json:"phase,omitempty"`
	Package string `json:"package,omitempty"`
	Version string `json:"version,omitempty"`
	Bytes   int64  `json:"bytes,omitempty"`
	Message string `json:"message,omitempty"`

	// done
	Status         string  `json:"status,omitempty"`
	Reason         string  `json:"reason,omitempty"`   // why the cell or session ended badly
	Duration       float64 `json:"duration,omitempty"` // seconds
	CPUTime        float64 `json:"cpu_time,omitempty"` // seconds
	PeakMemory     int64   `json:"peak_memory,omitempty"`
	ExecutionCount int     `json:"execution_count,omitempty"`
}
