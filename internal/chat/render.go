package chat

import (
	"strings"

	"charm.land/glamour/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// gutter indents the UI's own lines like glamour's document margin, so
// everything in the transcript lines up.
const gutter = "  "

// styles are the colours of the UI. They use the 16 ANSI colours, which
// every terminal has and which follow its theme; Bubble Tea downsamples
// or drops them where the terminal needs it.
type styles struct {
	user, dim, stderr, err, warn, ok, code, accent, prompt lipgloss.Style
}

func newStyles() styles {
	c := func(s string) lipgloss.Style { return lipgloss.NewStyle().Foreground(lipgloss.Color(s)) }
	return styles{
		user:   c("6").Bold(true),
		dim:    lipgloss.NewStyle().Faint(true),
		stderr: c("3"),
		err:    c("1"),
		warn:   c("3").Bold(true),
		ok:     c("2"),
		code:   c("7"),
		accent: c("5").Bold(true),
		prompt: c("3").Bold(true),
	}
}

// markdown renders Markdown with glamour, keeping one renderer per width
// and style.
type markdown struct {
	style string
	width int
	r     *glamour.TermRenderer
}

// render renders text at width columns, without the blank lines glamour
// puts around a document. It falls back to the plain text.
func (md *markdown) render(text string, width int) []string {
	if md.r == nil || md.width != width {
		r, err := glamour.NewTermRenderer(glamour.WithStandardStyle(md.style), glamour.WithWordWrap(width))
		if err != nil {
			return plainLines(text, width, "")
		}
		md.r, md.width = r, width
	}
	out, err := md.r.Render(text)
	if err != nil {
		return plainLines(text, width, "")
	}
	lines := strings.Split(out, "\n")
	for len(lines) > 0 && blank(lines[0]) {
		lines = lines[1:]
	}
	for len(lines) > 0 && blank(lines[len(lines)-1]) {
		lines = lines[:len(lines)-1]
	}
	return fit(lines, width)
}

// code renders code as a fenced block, so glamour highlights it.
func (md *markdown) code(code, lang string, width int) []string {
	fence := "```"
	for strings.Contains(code, fence) {
		fence += "`"
	}
	return md.render(fence+lang+"\n"+strings.TrimRight(code, "\n")+"\n"+fence, width)
}

func blank(line string) bool { return strings.TrimSpace(ansi.Strip(line)) == "" }

// fit wraps lines wider than width, so the screen never wraps them itself.
func fit(lines []string, width int) []string {
	var out []string
	for _, l := range lines {
		if ansi.StringWidth(l) <= width {
			out = append(out, l)
			continue
		}
		out = append(out, strings.Split(ansi.Hardwrap(l, width, true), "\n")...)
	}
	return out
}

// plainLines wraps plain text to width, each line behind indent and in
// style st if it is set.
func plainLines(text string, width int, indent string, st ...lipgloss.Style) []string {
	w := max(width-len(indent), 10)
	var out []string
	for _, l := range strings.Split(text, "\n") {
		l = expandTabs(l)
		for _, part := range strings.Split(ansi.Wrap(l, w, ""), "\n") {
			if len(st) > 0 {
				part = st[0].Render(part)
			}
			out = append(out, indent+part)
		}
	}
	return out
}

// expandTabs replaces tabs by spaces up to the next stop of eight.
func expandTabs(s string) string {
	if !strings.Contains(s, "\t") {
		return s
	}
	var b strings.Builder
	col := 0
	for _, r := range s {
		if r == '\t' {
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
			continue
		}
		b.WriteRune(r)
		col++
	}
	return b.String()
}

// clean makes program output safe to lay out: no escape sequences, which
// could move the cursor, and no other control characters but newlines,
// carriage returns and tabs.
func clean(s string) string {
	s = ansi.Strip(s)
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
