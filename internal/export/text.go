package export

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/store"
)

// header returns the lines that describe c.
func header(c *store.Conversation) []string {
	title := c.Title
	if title == "" {
		title = "(untitled)"
	}
	h := []string{fmt.Sprintf("Interp conversation %s: %s", c.ID, title)}
	if c.Provider != "" || c.Model != "" {
		h = append(h, "Model: "+strings.TrimSpace(c.Provider+" "+c.Model))
	}
	h = append(h, "Created: "+c.CreatedAt.UTC().Format(time.RFC3339))
	return h
}

// comment turns text into Python comment lines.
func comment(text string) string {
	ls := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range ls {
		if l == "" {
			ls[i] = "#"
		} else {
			ls[i] = "# " + l
		}
	}
	return strings.Join(ls, "\n")
}

// WriteScript writes c as a Python script in the percent format: what
// was said as comments in markdown cells, each code cell after "# %%".
func WriteScript(w io.Writer, c *store.Conversation) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, comment(strings.Join(header(c), "\n")))
	for _, it := range items(c) {
		var text string
		switch it.kind {
		case itemPrompt:
			text = fmt.Sprintf("%s\n\n%s", promptTitle(it.task), quote(it.text))
		case itemMessage:
			text = it.text
		case itemAnswer:
			text = "Answer:\n\n" + it.text
		case itemStop:
			text = fmt.Sprintf("Stopped (%s)", it.text)
		case itemNote:
			text = it.text
		case itemCode:
			fmt.Fprint(bw, "\n# %%\n")
			if f := failure(it); f != "" {
				fmt.Fprintln(bw, comment("This cell failed: "+oneLine(f)))
			}
			code := strings.TrimRight(it.cell.Code, "\n")
			if code != "" {
				fmt.Fprintln(bw, code)
			}
			continue
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		fmt.Fprint(bw, "\n# %% [markdown]\n")
		fmt.Fprintln(bw, comment(text))
	}
	return bw.Flush()
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return s
}

// fence returns a code fence longer than any run of backticks in text.
func fence(text string) string {
	longest, run := 0, 0
	for _, c := range text {
		if c == '`' {
			run++
			if run > longest {
				longest = run
			}
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

func fenced(lang, text string) string {
	text = strings.TrimRight(text, "\n")
	f := fence(text)
	return f + lang + "\n" + text + "\n" + f
}

// WriteMarkdown writes c as Markdown: prompts as quotes, the model's text
// as it is, code in fenced blocks followed by its outputs.
func WriteMarkdown(w io.Writer, c *store.Conversation, opts *Options) error {
	if opts == nil {
		opts = &Options{}
	}
	bw := bufio.NewWriter(w)
	title := c.Title
	if title == "" {
		title = "Interp conversation " + c.ID
	}
	fmt.Fprintf(bw, "# %s\n\n", title)
	h := header(c)[1:]
	h = append([]string{"Conversation: `" + c.ID + "`"}, h...)
	for _, l := range h {
		fmt.Fprintf(bw, "- %s\n", l)
	}
	for _, it := range items(c) {
		fmt.Fprintln(bw)
		switch it.kind {
		case itemPrompt:
			fmt.Fprintf(bw, "## %s\n\n%s\n", promptTitle(it.task), quote(it.text))
		case itemMessage:
			fmt.Fprintln(bw, strings.TrimRight(it.text, "\n"))
		case itemAnswer:
			fmt.Fprintf(bw, "**Answer**\n\n%s\n", strings.TrimRight(it.text, "\n"))
		case itemStop:
			fmt.Fprintf(bw, "*Stopped (%s)*\n", it.text)
		case itemNote:
			fmt.Fprintln(bw, fenced("text", it.text))
		case itemCode:
			if err := markdownCode(bw, it, opts); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

func markdownCode(w io.Writer, it *item, opts *Options) error {
	x := it.cell
	label := fmt.Sprintf("Cell %d", x.Seq)
	if x.ExecutionCount > 0 {
		label = fmt.Sprintf("In [%d]", x.ExecutionCount)
	}
	status := x.Status
	if x.Duration > 0 {
		status += fmt.Sprintf(", %.2f s", x.Duration)
	}
	fmt.Fprintf(w, "%s (%s):\n\n%s\n", label, status, fenced("python", x.Code))
	// Streams are joined as a notebook shows them.
	var stream strings.Builder
	name := ""
	flush := func() {
		if stream.Len() > 0 {
			lang := "text"
			if name == event.Stderr {
				lang = "text stderr"
			}
			fmt.Fprintf(w, "\n%s\n", fenced(lang, stream.String()))
			stream.Reset()
		}
	}
	for _, o := range it.outputs {
		switch o.Type {
		case event.Stdout, event.Stderr:
			if name != o.Type {
				flush()
				name = o.Type
			}
			stream.WriteString(o.Text)
			continue
		}
		flush()
		name = ""
		switch o.Type {
		case event.Display:
			s, err := markdownDisplay(o.Data, opts)
			if err != nil {
				return err
			}
			if s != "" {
				fmt.Fprintf(w, "\n%s\n", s)
			}
		case event.Error:
			tb := strings.Join(o.Traceback, "\n")
			if tb == "" {
				tb = o.EName + ": " + o.EValue
			}
			fmt.Fprintf(w, "\n%s\n", fenced("text error", stripANSI(tb)))
		}
	}
	flush()
	for _, p := range it.packages {
		v := p.Version
		if v != "" {
			v = " " + v
		}
		fmt.Fprintf(w, "\n- package %s%s: %s", p.Name, v, p.Phase)
		if p.Phase == event.PhaseFailed && p.Message != "" {
			fmt.Fprintf(w, " (%s)", oneLine(p.Message))
		}
		fmt.Fprintln(w)
	}
	for _, f := range it.files {
		fmt.Fprintf(w, "\n- file `%s`: %s, %d bytes", f.Path, f.Change, f.Size)
		if f.SHA256 != "" {
			fmt.Fprintf(w, ", sha256 %s", f.SHA256[:12])
		}
		fmt.Fprintln(w)
	}
	return nil
}

// markdownDisplay renders a MIME bundle: an image if there is one, else
// Markdown, else plain text, else HTML as it is.
func markdownDisplay(data map[string]any, opts *Options) (string, error) {
	for _, mime := range []string{"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"} {
		v, ok := data[mime].(string)
		if !ok {
			continue
		}
		var raw []byte
		if mime == "image/svg+xml" {
			raw = []byte(v)
		} else {
			b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), ""))
			if err != nil {
				continue
			}
			raw = b
		}
		alt := "image"
		if t, ok := data["text/plain"].(string); ok && t != "" {
			alt = oneLine(t)
		}
		alt = strings.NewReplacer("[", "(", "]", ")").Replace(alt)
		if opts.ImageLink != nil {
			link, err := opts.ImageLink(mime, raw)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("![%s](%s)", alt, link), nil
		}
		return fmt.Sprintf("![%s](data:%s;base64,%s)", alt, mime, base64.StdEncoding.EncodeToString(raw)), nil
	}
	if v, ok := data["text/markdown"].(string); ok {
		return strings.TrimRight(v, "\n"), nil
	}
	if v, ok := data["text/plain"].(string); ok {
		return fenced("text", v), nil
	}
	if v, ok := data["text/html"].(string); ok {
		return strings.TrimRight(v, "\n"), nil
	}
	for _, mime := range sortedKeys(data) {
		return fmt.Sprintf("*(%s output)*", mime), nil
	}
	return "", nil
}

// stripANSI removes terminal colour codes from tracebacks.
func stripANSI(s string) string {
	if !strings.Contains(s, "\x1b[") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
