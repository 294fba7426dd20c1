package chat

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"charm.land/lipgloss/v2"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

// kind is what a block of the transcript shows.
type kind int

const (
	kindNote    kind = iota // the UI's own messages
	kindUser                // a prompt
	kindText                // the model's text: plain while it streams, Markdown when complete
	kindCode                // the model's code: plain while it streams, highlighted when complete
	kindOutput              // stdout and stderr of a cell
	kindError               // a traceback
	kindDisplay             // a display: its text, or a line about an image
	kindFile                // a file the code wrote
	kindInstall             // one package's install
	kindDone                // how a cell ended
	kindAnswer              // the final answer, as Markdown
	kindStop                // why a task ended without an answer
)

// maxOutputLines bounds the output lines one cell keeps on screen; the
// earliest go first.
const maxOutputLines = 2000

// block is one item of the transcript. Its rendered lines are cached until
// it changes or the width or style does.
type block struct {
	kind kind
	step int
	text string
	done bool // text and code: complete, so rendered in full
	warn bool // notes: an error

	out     *output       // kindOutput
	install session.Event // kindInstall: the latest event of the package
	packs   []string      // kindCode: packages the call asked for
	image   []byte        // kindDisplay: a PNG or JPEG, drawn in the final transcript

	ver      int // bumped by every change
	cacheVer int
	cacheW   int
	cacheSt  string
	lines    []string
}

func (b *block) changed() { b.ver++ }

// render returns the block's lines at width, from the cache if it holds.
func (b *block) render(width int, md *markdown, st *styles) []string {
	if b.lines != nil && b.cacheVer == b.ver && b.cacheW == width && b.cacheSt == md.style {
		return b.lines
	}
	b.lines = b.draw(width, md, st)
	if b.lines == nil {
		b.lines = []string{}
	}
	b.cacheVer, b.cacheW, b.cacheSt = b.ver, width, md.style
	return b.lines
}

func (b *block) draw(width int, md *markdown, st *styles) []string {
	switch b.kind {
	case kindUser:
		lines := plainLines(b.text, width-2, "")
		for i := range lines {
			p := "  "
			if i == 0 {
				p = "› "
			}
			lines[i] = st.user.Render(p + lines[i])
		}
		return lines
	case kindText, kindAnswer:
		if b.done || b.kind == kindAnswer {
			return md.render(b.text, width)
		}
		return plainLines(b.text, width, gutter)
	case kindCode:
		var lines []string
		if len(b.packs) > 0 {
			lines = append(lines, st.dim.Render(gutter+"packages: "+strings.Join(b.packs, ", ")))
		}
		if b.done {
			return append(lines, md.code(b.text, "python", width)...)
		}
		return append(lines, plainLines(b.text, width, gutter+gutter, st.code)...)
	case kindOutput:
		return b.out.render(width, st)
	case kindError:
		return plainLines(strings.TrimRight(b.text, "\n"), width, gutter, st.err)
	case kindDisplay:
		return plainLines(strings.TrimRight(b.text, "\n"), width, gutter)
	case kindFile:
		return plainLines(b.text, width, gutter, st.dim)
	case kindInstall:
		return plainLines(installLine(b.install), width, gutter, installStyle(b.install, st))
	case kindDone:
		s := st.dim
		if b.warn {
			s = st.err
		}
		return plainLines(b.text, width, gutter, s)
	case kindStop:
		return plainLines("■ "+b.text, width, gutter, st.warn)
	default: // kindNote
		if b.warn {
			return plainLines(b.text, width, gutter, st.err)
		}
		return plainLines(b.text, width, gutter, st.dim)
	}
}

// tight says the block follows the one before without a blank line: a
// cell's results stay together under its code.
func (b *block) tight() bool {
	switch b.kind {
	case kindOutput, kindError, kindDisplay, kindFile, kindInstall, kindDone:
		return true
	}
	return false
}

func installLine(ev session.Event) string {
	switch ev.Phase {
	case event.PhaseResolving:
		return "… installing " + ev.Package
	case event.PhaseDownloading:
		return "↓ downloading " + DownloadText(ev)
	case event.PhaseInstalled:
		if ev.Version != "" {
			return fmt.Sprintf("✓ installed %s %s", ev.Package, ev.Version)
		}
		return fmt.Sprintf("✓ %s: %s", ev.Package, ev.Message)
	case event.PhaseFailed:
		if ev.Package != "" {
			return fmt.Sprintf("✗ install of %s failed: %s", ev.Package, ev.Message)
		}
		return "✗ install failed: " + ev.Message
	}
	return fmt.Sprintf("%s %s %s", ev.Phase, ev.Package, ev.Message)
}

func installStyle(ev session.Event, st *styles) lipgloss.Style {
	switch ev.Phase {
	case event.PhaseInstalled:
		return st.ok
	case event.PhaseFailed:
		return st.err
	}
	return st.dim
}

// DownloadText describes a downloading install event for a person: the
// packages in flight (with the version of one), the bytes fetched of the
// total, a bar, the share and the time left, as far as the event knows
// them: "polars 1.2.0: 8.0 MiB of 31.5 MiB [=====     ] 25%, 13s left".
// The CLI's progress line says the same.
func DownloadText(ev session.Event) string {
	what := ev.Package
	if ev.Version != "" && !strings.Contains(what, " ") {
		what += " " + ev.Version
	}
	switch {
	case ev.Total > 0:
		n := min(ev.Bytes, ev.Total)
		const width = 20
		fill := int(n * width / ev.Total)
		s := fmt.Sprintf("%s: %s of %s [%s%s] %d%%", what, sandbox.FormatBytes(n), sandbox.FormatBytes(ev.Total),
			strings.Repeat("=", fill), strings.Repeat(" ", width-fill), n*100/ev.Total)
		if ev.ETA > 0 && n < ev.Total {
			s += ", " + formatETA(ev.ETA) + " left"
		}
		return s
	case ev.Bytes > 0:
		return what + ": " + sandbox.FormatBytes(ev.Bytes)
	}
	return what
}

// formatETA says how long is left: "8s", "1m20s".
func formatETA(secs float64) string {
	return (time.Duration(math.Ceil(secs)) * time.Second).String()
}

// doneLine says how a cell ended, and whether that was a failure.
func doneLine(ev session.Event) (string, bool) {
	d := ""
	if ev.Duration > 0 {
		d = fmt.Sprintf(" in %.2fs", ev.Duration)
	}
	switch ev.Status {
	case event.StatusOK:
		return "✓ ran" + d, false
	case event.StatusError:
		return "✗ failed" + d, true
	case event.StatusInterrupted:
		return "■ interrupted" + d, true
	case event.StatusTimeout:
		return "✗ timed out" + d, true
	case event.StatusDied:
		if ev.Reason != "" {
			return "✗ the Python process ended: " + ev.Reason, true
		}
		return "✗ the Python process ended", true
	}
	return ev.Status + d, ev.Status != ""
}

// output is a cell's stdout and stderr as lines, like a terminal would
// show them: a carriage return starts its line again, so progress bars
// redraw in place.
type output struct {
	lines   []outLine
	dropped int  // lines dropped from the front
	cr      bool // a carriage return awaits what follows it

	// The rendered lines of lines[:cachedN]: only the last line changes.
	cached  []string
	cachedN int
	cachedW int
}

type outLine struct {
	stderr bool
	text   []byte
}

func (o *output) add(stderr bool, s string) {
	s = clean(s)
	cur := o.current(stderr)
	for _, r := range s {
		switch {
		case r == '\n':
			o.cr = false
			cur = o.newLine(stderr)
		case r == '\r':
			o.cr = true
		default:
			if o.cr {
				cur.text = cur.text[:0]
				o.cr = false
			}
			cur.text = utf8.AppendRune(cur.text, r)
		}
	}
}

// current returns the line to write to: the last one, unless it holds the
// other stream's text, which keeps its own line.
func (o *output) current(stderr bool) *outLine {
	if n := len(o.lines); n > 0 {
		last := &o.lines[n-1]
		if last.stderr == stderr || len(last.text) == 0 {
			last.stderr = stderr
			return last
		}
		o.cr = false
	}
	return o.newLine(stderr)
}

func (o *output) newLine(stderr bool) *outLine {
	o.lines = append(o.lines, outLine{stderr: stderr})
	// Drop in chunks, so the cache is not thrown away at every line.
	if len(o.lines) > maxOutputLines+maxOutputLines/8 {
		n := len(o.lines) - maxOutputLines
		o.lines = append([]outLine(nil), o.lines[n:]...)
		o.dropped += n
		o.cached, o.cachedN = nil, 0
	}
	return &o.lines[len(o.lines)-1]
}

func (o *output) render(width int, st *styles) []string {
	line := func(l *outLine) []string {
		if l.stderr {
			return plainLines(string(l.text), width, gutter, st.stderr)
		}
		return plainLines(string(l.text), width, gutter)
	}
	if o.cachedW != width {
		o.cached, o.cachedN, o.cachedW = nil, 0, width
	}
	n := len(o.lines)
	for ; o.cachedN < n-1; o.cachedN++ {
		o.cached = append(o.cached, line(&o.lines[o.cachedN])...)
	}
	out := make([]string, 0, len(o.cached)+2)
	if o.dropped > 0 {
		out = append(out, st.dim.Render(fmt.Sprintf("%s… %d earlier lines not shown", gutter, o.dropped)))
	}
	out = append(out, o.cached...)
	// The line after the last newline is shown once it has text.
	if n > 0 && len(o.lines[n-1].text) > 0 {
		out = append(out, line(&o.lines[n-1])...)
	}
	return out
}
