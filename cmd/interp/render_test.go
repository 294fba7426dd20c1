package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/session"
)

// screenOf plays what was written to a terminal (carriage returns, erase
// to the end of the line, newlines) and returns the lines it shows.
func screenOf(b []byte) []string {
	lines := []string{""}
	col := 0
	s := string(b)
	for i := 0; i < len(s); i++ {
		cur := []rune(lines[len(lines)-1])
		switch {
		case s[i] == '\r':
			col = 0
		case s[i] == '\n':
			lines = append(lines, "")
			col = 0
		case strings.HasPrefix(s[i:], "\x1b[K"):
			lines[len(lines)-1] = string(cur[:col])
			i += 2
		default:
			r := []rune(s[i:])[0]
			i += len(string(r)) - 1
			if col < len(cur) {
				cur[col] = r
			} else {
				cur = append(cur, r)
			}
			lines[len(lines)-1] = string(cur)
			col++
		}
	}
	return lines
}

// TestInstallProgress: on a terminal, a download's progress is one line
// with the package, the bytes of the total, a bar and the time left; it
// never goes backwards, and it is erased before the program's output, so
// the screen keeps only the install's lines and the output.
func TestInstallProgress(t *testing.T) {
	t.Parallel()
	var term bytes.Buffer
	r := newTextRenderer(&term, &term, "")
	r.live, r.width = true, 120
	dl := func(bytes, total int64, eta float64) session.Event {
		return session.Event{Type: event.Install, Phase: event.PhaseDownloading, Package: "polars", Version: "1.2.0", Bytes: bytes, Total: total, ETA: eta}
	}
	r.event(session.Event{Type: event.Install, Phase: event.PhaseResolving, Package: "polars"})
	r.event(dl(0, 33030144, 0))
	r.event(dl(8<<20, 33030144, 12.4))
	var shown []string
	shown = append(shown, screenOf(term.Bytes())[1])
	r.event(dl(4<<20, 33030144, 20)) // a smaller count: the line keeps its 8 MiB
	shown = append(shown, screenOf(term.Bytes())[1])
	r.event(dl(33030144, 33030144, 0))
	r.event(session.Event{Type: event.Install, Phase: event.PhaseInstalled, Package: "polars", Version: "1.2.0"})
	r.event(session.Event{Type: event.Stdout, Text: "shape: (3, 2)\n"})
	r.close()

	want := "[interp: downloading polars 1.2.0: 8.0 MiB of 31.5 MiB [=====               ] 25%, 13s left]"
	if shown[0] != want || !strings.Contains(shown[1], "8.0 MiB of 31.5 MiB") {
		t.Errorf("progress line:\n%q\n%q\nwant %q and no step back", shown[0], shown[1], want)
	}
	got := strings.Join(screenOf(term.Bytes()), "\n")
	if wantScreen := "[interp: installing polars]\n[interp: installed polars 1.2.0]\nshape: (3, 2)\n"; got != wantScreen {
		t.Errorf("the screen shows\n%q\nwant\n%q", got, wantScreen)
	}

	// Not a terminal: no progress lines at all.
	var log bytes.Buffer
	r = newTextRenderer(&log, &log, "")
	r.event(dl(8<<20, 33030144, 12))
	r.event(session.Event{Type: event.Stdout, Text: "x\n"})
	if log.String() != "x\n" {
		t.Errorf("not a terminal: %q", log.String())
	}

	// A narrow terminal: the line is cut, never wrapped.
	term.Reset()
	r = newTextRenderer(&term, &term, "")
	r.live, r.width = true, 30
	r.event(dl(8<<20, 33030144, 12))
	if line := screenOf(term.Bytes())[0]; len([]rune(line)) >= 30 || !strings.HasSuffix(line, "…") {
		t.Errorf("narrow terminal: %q", line)
	}
}
