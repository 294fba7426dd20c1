package agent

import (
	"strings"

	"github.com/interp-dev/interp/internal/event"
)

// fenceSplitter turns the text a step streams under the fenced protocol
// into the events front ends show. There a step is either one ```python
// block or an answer, so a step that opens with a fence streams its code
// as code events, without the fence lines, as a tool call's code streams:
// front ends then show the code once, not as the model's text and again
// as the code that runs. Anything else is the model's text, given whole
// when the step ends: the loop may still clean it or send it back.
type fenceSplitter struct {
	on   bool // the fenced protocol's grammar is in use
	mode fenceMode
	buf  string // held back: an undecided start, or what may be the closing fence
}

type fenceMode int

const (
	fenceUndecided fenceMode = iota
	fenceText
	fenceCode
	fenceClosed
)

// closingFence ends the code of a fenced step.
const closingFence = "\n```"

// piece is a part of a step's text and the event type it streams as.
type piece struct {
	typ  string
	text string
}

// add takes the next streamed text and returns what can be shown now.
func (f *fenceSplitter) add(s string) []piece {
	if !f.on {
		return []piece{{event.Message, s}}
	}
	f.buf += s
	if f.mode == fenceUndecided {
		start := strings.TrimLeft(f.buf, " \t\n")
		switch {
		case len(start) < 3 && strings.HasPrefix("```", start):
			return nil // it may still become a fence
		case strings.HasPrefix(start, "```"):
			nl := strings.IndexByte(start, '\n')
			if nl < 0 {
				return nil // the fence's info string is still coming
			}
			f.mode, f.buf = fenceCode, start[nl+1:]
		default:
			f.mode = fenceText
		}
	}
	switch f.mode {
	case fenceText:
		return nil // a fenced step's text is its answer: shown whole (flush)
	case fenceCode:
		if i := strings.Index(f.buf, closingFence); i >= 0 {
			code := f.buf[:i]
			f.mode, f.buf = fenceClosed, ""
			return codePiece(code)
		}
		// Hold back a tail that may be the start of the closing fence.
		keep := 0
		for n := min(len(closingFence), len(f.buf)); n > 0; n-- {
			if strings.HasSuffix(f.buf, closingFence[:n]) {
				keep = n
				break
			}
		}
		code := f.buf[:len(f.buf)-keep]
		f.buf = f.buf[len(f.buf)-keep:]
		return codePiece(code)
	}
	f.buf = "" // after the closing fence the grammar allows nothing shown
	return nil
}

// flush returns what is held back when the step's stream ends.
func (f *fenceSplitter) flush() []piece {
	text := f.buf
	f.buf = ""
	switch f.mode {
	case fenceUndecided, fenceText:
		if text != "" {
			return []piece{{event.Message, text}}
		}
	case fenceCode:
		return codePiece(strings.TrimSuffix(text, "\n"))
	}
	return nil
}

func codePiece(code string) []piece {
	if code == "" {
		return nil
	}
	return []piece{{event.Code, code}}
}
