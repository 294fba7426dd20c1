package agent

import (
	"regexp"
	"strings"
)

// Volatile parts of an error message that change between runs of the very
// same code: the cell's name (<cell 3>, <ipython-input-3-...>, Cell In[3]),
// memory addresses, and object ids in reprs.
var (
	cellNameRE = regexp.MustCompile(`<cell \d+>|<ipython-input-\d+-[0-9a-f]+>|Cell In\s*\[\d+\]|File "<[^>]*>"`)
	addressRE  = regexp.MustCompile(`0x[0-9a-fA-F]+`)
	spaceRE    = regexp.MustCompile(`\s+`)
)

// normaliseError strips from an error what changes between two runs of the
// same code, so that they compare equal.
func normaliseError(s string) string {
	s = cellNameRE.ReplaceAllString(s, "<cell>")
	s = addressRE.ReplaceAllString(s, "0x…")
	return strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
}

// normaliseCode ignores what does not change what code does: blank lines
// and trailing spaces.
func normaliseCode(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, " \t\r"); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// What a failed run means for the loop.
type verdict int

const (
	carryOn      verdict = iota
	hintApproach         // the same error from new code: tell the model its approach is wrong
	stopRepeat           // nothing changes: stop
)

// repeatTracker tells a model that is stuck from one that is making
// progress. Identical code failing with the same error is a repeat: the
// model is not getting anywhere. The same error from different code is
// the model retyping an approach that cannot work: it first gets a hint to
// change approach, and the task stops only if the error keeps coming.
type repeatTracker struct {
	lastCode, lastError string
	identical           int // runs of identical code with the same error, beyond the first
	sameError           int // consecutive failures with the same error, whatever the code
}

// reset forgets the failures: the code ran.
func (t *repeatTracker) reset() { *t = repeatTracker{} }

// record takes a failed run and says what to do, given that maxRepeats
// identical failures in a row are too many.
func (t *repeatTracker) record(code, errText string, maxRepeats int) verdict {
	code, errText = normaliseCode(code), normaliseError(errText)
	if errText == t.lastError {
		t.sameError++
		if code == t.lastCode {
			t.identical++
		} else {
			t.identical = 0
		}
	} else {
		t.sameError, t.identical = 0, 0
	}
	t.lastCode, t.lastError = code, errText
	switch {
	case t.identical > 0 && t.identical+1 >= maxRepeats:
		return stopRepeat
	// Different code, same error: a hint first, then, two tries after
	// it, a stop.
	case t.sameError+1 >= maxRepeats+2:
		return stopRepeat
	case t.sameError+1 == maxRepeats:
		return hintApproach
	}
	return carryOn
}

// approachHint is what a model hears when different code keeps failing
// the same way.
const approachHint = "This is the same error as before, from different code: the approach is wrong, not the typing. " +
	"Check your assumptions first (print the columns, keys, types or values involved), then try a different way."
