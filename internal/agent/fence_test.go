package agent

import (
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/event"
)

// TestFenceSplitter: whatever the chunking, a fenced step streams its code
// (without the fences) as code, and an answer as text; off the fenced
// protocol everything is text.
func TestFenceSplitter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		on         bool
		in         string
		text, code string
	}{
		{"fenced code", true, "```python\nx = 1\nprint(x)\n```", "", "x = 1\nprint(x)"},
		{"fenced code, leading space", true, "\n ```python\nprint(2)\n```\n", "", "print(2)"},
		{"a backtick inside the code", true, "```python\ns = '`a`'\nprint(s)\n```", "", "s = '`a`'\nprint(s)"},
		{"cut before the closing fence", true, "```python\nprint(3)\n", "", "print(3)"},
		{"an answer", true, "The mean is 3.0.", "The mean is 3.0.", ""},
		{"an answer opening with a backtick", true, "`x` is 3", "`x` is 3", ""},
		{"off the fenced protocol", false, "```python\nprint(1)\n```", "```python\nprint(1)\n```", ""},
	}
	for _, tt := range tests {
		for _, size := range []int{1, 2, 3, 5, 1000} {
			f := &fenceSplitter{on: tt.on}
			var text, code strings.Builder
			collect := func(ps []piece) {
				for _, p := range ps {
					switch p.typ {
					case event.Message:
						text.WriteString(p.text)
					case event.Code:
						code.WriteString(p.text)
					}
				}
			}
			for i := 0; i < len(tt.in); i += size {
				collect(f.add(tt.in[i:min(i+size, len(tt.in))]))
			}
			collect(f.flush())
			if text.String() != tt.text || code.String() != tt.code {
				t.Errorf("%s, chunks of %d: text %q code %q, want text %q code %q", tt.name, size, text.String(), code.String(), tt.text, tt.code)
			}
		}
	}
}
