package agent

import (
	"errors"
	"strings"
)

// errRunaway cancels a step whose answer repeats itself.
var errRunaway = errors.New("the model's answer kept repeating itself")

// Runaway detection: an answer whose last minRun bytes (or more, for
// longer units) repeat one unit of at most maxPeriod bytes over and over
// is a model stuck in a loop, not one writing code. Real code rarely
// repeats itself exactly over a few hundred bytes.
const (
	maxPeriod   = 160
	minRun      = 320
	checkEvery  = 64 // bytes between two checks
	repeatCount = 4  // a longer unit must come this many times
)

// runawayDetector watches an answer as it streams.
type runawayDetector struct {
	buf     strings.Builder
	checked int
}

// add takes the next piece and reports whether the answer has become a
// loop.
func (d *runawayDetector) add(piece string) bool {
	d.buf.WriteString(piece)
	// Blank runs are checked at every piece: a slow model may take
	// minutes for the bytes between two full checks.
	if s := d.buf.String(); len(s) >= maxBlank && strings.TrimSpace(s[len(s)-maxBlank:]) == "" {
		return true
	}
	if d.buf.Len()-d.checked < checkEvery {
		return false
	}
	d.checked = d.buf.Len()
	return repeating(d.buf.String())
}

// maxBlank is the longest run of whitespace an answer may end in: a model
// that emits only newlines, as one does when a grammar keeps it from
// stopping, is stuck too.
const maxBlank = 48

// repeating reports whether s ends in a run of one unit repeated, or in a
// long run of whitespace.
func repeating(s string) bool {
	n := len(s)
	if n >= maxBlank && strings.TrimSpace(s[n-maxBlank:]) == "" {
		return true
	}
	for p := 1; p <= maxPeriod; p++ {
		run := max(minRun, repeatCount*p)
		if n < run+p {
			return false
		}
		if s[n-run:] == s[n-run-p:n-p] && strings.TrimSpace(s[n-p:]) != "" {
			return true
		}
	}
	return false
}

// text is what has streamed so far.
func (d *runawayDetector) text() string { return d.buf.String() }
