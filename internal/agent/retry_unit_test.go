package agent

import (
	"slices"
	"testing"

	"github.com/interp-dev/interp/internal/session"
)

func TestFailingLine(t *testing.T) {
	t.Parallel()
	code := "import pandas as pd\nx = [1, 2]\nprint(x[5])"
	for _, tb := range [][]string{
		{"Traceback (most recent call last):", `  File "<cell 4>", line 3, in <module>`, "IndexError: list index out of range"},
		{"Traceback (most recent call last):", "  Cell In[4], line 3", "IndexError: list index out of range"},
	} {
		if n, line := failingLine(code, &session.Event{Traceback: tb}); n != 3 || line != "print(x[5])" {
			t.Errorf("failingLine(%q) = %d, %q", tb, n, line)
		}
	}
	if n, _ := failingLine(code, &session.Event{Traceback: []string{"  Cell In[4], line 9"}}); n != 0 {
		t.Errorf("a line past the code's end: %d", n)
	}
}

func TestUngrounded(t *testing.T) {
	t.Parallel()
	sources := []string{"How many rows since 1957, in the top 10?", "stdout:\nsensor_id 0\ntemperature 12\nhumidity 9\ndtype: int64\n0.301519\n86968.84\n1.5e-05\n-0.3156369"}
	tests := []struct {
		answer string
		want   []string
	}{
		{"12 and 9", nil},
		{"1", []string{"1"}},
		{"21", []string{"21"}},
		{"30.15%", nil},              // a percentage of a fraction shown
		{"0.3015", nil},              // rounded
		{"0.30", nil},                // rounded more
		{"0.31", []string{"0.31"}},   // not a rounding of 0.301519
		{"86,968.84 in total", nil},  // thousands separator
		{"sensor s2 has int64", nil}, // digits in words are not numbers
		{"-0.3156", nil},             // the sign aside
		{"0.000015", nil},            // written out
		{"1957 and the top 10", nil}, // from the task
		{"@mean[14.23]", []string{"14.23"}},
		{"1957年", nil},
	}
	for _, tt := range tests {
		if got := ungrounded(tt.answer, sources); !slices.Equal(got, tt.want) {
			t.Errorf("ungrounded(%q) = %v, want %v", tt.answer, got, tt.want)
		}
	}
}

func TestWithoutMarkup(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"The mean is 3.0.", "The mean is 3.0."},
		{"[status: ok]\nresult:\n3.0\n[next]", "3.0"},
		{"[status: ok]\nresult:\n[image 1: 588x454 png] <Figure size 640x480 with 1 Axes>\nfiles: sine.png (created, 29.8 KiB)\n[next]", "files: sine.png (created, 29.8 KiB)"},
		{"[status: ok]", "Done: the code ran without error; its output is above."},
		{"[status: ok] 0.7156", "0.7156"},
		{"The slope is 2.\n\n[next] Reply now with the final answer", "The slope is 2."},
		// Without copied markup nothing is touched, headers included.
		{"result:\n42", "result:\n42"},
	}
	for _, tt := range tests {
		if got := withoutMarkup(tt.in); got != tt.want {
			t.Errorf("withoutMarkup(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
