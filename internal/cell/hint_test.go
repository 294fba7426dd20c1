package cell

import (
	"testing"

	"github.com/interp-dev/interp/internal/event"
)

// TestFileHint: a FileNotFoundError for a file the workspace lacks is
// followed by one note, in the front end's words; anything else by none.
func TestFileHint(t *testing.T) {
	t.Parallel()
	how := func(path string) string {
		if path == "skip.csv" {
			return ""
		}
		return "bring " + path + " in"
	}
	fnf := func(evalue string) event.Event {
		return event.Event{Type: event.Error, EName: "FileNotFoundError", EValue: evalue}
	}
	tests := []struct {
		name    string
		failure event.Event
		want    string
	}{
		{"relative", fnf("[Errno 2] No such file or directory: 'data.csv'"), "[interp: data.csv is not in the sandbox; bring data.csv in]"},
		{"a subdirectory", fnf("[Errno 2] No such file or directory: 'in/x.csv'"), "[interp: in/x.csv is not in the sandbox; bring in/x.csv in]"},
		{"inside the workspace", fnf("[Errno 2] No such file or directory: '/workspace/data.csv'"), "[interp: data.csv is not in the sandbox; bring data.csv in]"},
		{"double quotes", fnf(`[Errno 2] No such file or directory: "it's.csv"`), "[interp: it's.csv is not in the sandbox; bring it's.csv in]"},
		{"the front end has nothing to say", fnf("[Errno 2] No such file or directory: 'skip.csv'"), ""},
		{"another error", event.Event{Type: event.Error, EName: "KeyError", EValue: "'No such file or directory: x'"}, ""},
		{"another message", fnf("no such thing"), ""},
		{"not an error", event.Event{Type: event.Stderr, Text: "No such file or directory: 'a.csv'"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := FileHint(tt.failure, how); got != tt.want {
				t.Errorf("FileHint = %q, want %q", got, tt.want)
			}
		})
	}
}
