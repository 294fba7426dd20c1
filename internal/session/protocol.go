package session

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ProtocolVersion is the version of the runner protocol this package
// speaks; the runner announces its own in its hello.
const ProtocolVersion = 1

// maxFrame bounds one message from the runner. The runner is inside the
// sandbox, so its messages are untrusted input.
const maxFrame = 64 << 20

// message is one frame of the runner protocol, in either direction.
type message struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`

	// execute
	Code          string `json:"code,omitempty"`
	MaxImageBytes int64  `json:"max_image_bytes,omitempty"`
	Count         int    `json:"count,omitempty"` // this cell's In[N], when set
	// preload
	Modules []string `json:"modules,omitempty"`
	// complete
	Cursor int `json:"cursor,omitempty"`

	// hello
	Protocol int    `json:"protocol,omitempty"`
	Python   string `json:"python,omitempty"`
	IPython  bool   `json:"ipython,omitempty"`

	// stream; and execute's name for the cell in tracebacks
	Name string `json:"name,omitempty"`
	Text string `json:"text,omitempty"`
	// display
	Data     map[string]any `json:"data,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
	// error
	EName     string   `json:"ename,omitempty"`
	EValue    string   `json:"evalue,omitempty"`
	Traceback []string `json:"traceback,omitempty"`
	// done
	Status         string  `json:"status,omitempty"`
	ExecutionCount int     `json:"execution_count,omitempty"`
	CPUTime        float64 `json:"cpu_time,omitempty"`
	PeakMemory     int64   `json:"peak_memory,omitempty"`
	// protocol_error, and a failed preload's done
	Message string `json:"message,omitempty"`

	// imports, the answer to analyze
	Imports []Import   `json:"imports,omitempty"`
	Pip     [][]string `json:"pip,omitempty"`
	Error   string     `json:"error,omitempty"`

	// completions, the answer to complete
	Matches     []string `json:"matches,omitempty"`
	CursorStart int      `json:"cursor_start,omitempty"`
}

// Import is one import statement found in a cell, with whether the
// session can already satisfy it.
type Import struct {
	// Module is the dotted name imported; Top its first component.
	Module string `json:"module"`
	Top    string `json:"top"`
	Line   int    `json:"line"`
	// Status is "stdlib", "installed", "local" or "missing".
	Status string `json:"status"`
	// Group is non-zero for imports in a try statement that catches
	// ImportError; those in its handler are fallbacks for the others.
	Group    int  `json:"group,omitempty"`
	Fallback bool `json:"fallback,omitempty"`
}

// Import statuses.
const (
	ImportStdlib    = "stdlib"
	ImportInstalled = "installed"
	ImportLocal     = "local"
	ImportMissing   = "missing"
)

// writeFrame writes m as a length-prefixed JSON frame.
func writeFrame(w io.Writer, m *message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	_, err = w.Write(buf)
	return err
}

// errFrameTooLarge reports a runner frame over maxFrame.
var errFrameTooLarge = errors.New("runner sent a message over 64 MiB")

// readFrame reads one frame into m. A malformed frame is an error: the
// stream cannot be trusted to resynchronise after it.
func readFrame(r io.Reader, m *message) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return errFrameTooLarge
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("runner frame cut short: %w", err)
	}
	*m = message{}
	if err := json.Unmarshal(b, m); err != nil {
		return fmt.Errorf("runner sent malformed JSON: %w", err)
	}
	return nil
}
