// Package export writes a recorded conversation (store.Conversation) out
// of Interp:
//
//   - ipynb: a Jupyter notebook (nbformat 4.5): markdown cells for the
//     user's prompts and the model's messages and answers, code cells with
//     their execution counts and outputs (streams, display data with the
//     whole MIME bundle, images included, and errors).
//   - py: a Python script in the percent format: prompts and answers as
//     comments, cells separated by "# %%".
//   - md: Markdown with fenced code and outputs, images as data URLs or,
//     with Options.ImageLink, as links to files.
//   - json: everything recorded, as JSON.
//
// Output is deterministic: the same conversation exports to the same
// bytes.
package export

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/store"
)

// Formats.
const (
	IPynb    = "ipynb"
	Python   = "py"
	Markdown = "md"
	JSON     = "json"
)

// Formats returns the format names, for flags and help.
func Formats() []string { return []string{IPynb, Python, Markdown, JSON} }

// Options adjust an export.
type Options struct {
	// ImageLink, for md, stores an image (raw bytes) and returns the link
	// to put in the Markdown, e.g. a file written next to it. Nil embeds
	// images as data URLs.
	ImageLink func(mime string, data []byte) (string, error)
}

// Write writes c in format to w.
func Write(w io.Writer, c *store.Conversation, format string, opts *Options) error {
	if opts == nil {
		opts = &Options{}
	}
	switch strings.TrimPrefix(strings.ToLower(format), ".") {
	case IPynb, "notebook":
		return WriteNotebook(w, c)
	case Python, "python":
		return WriteScript(w, c)
	case Markdown, "markdown":
		return WriteMarkdown(w, c, opts)
	case JSON:
		return WriteJSON(w, c)
	}
	return fmt.Errorf("export: unknown format %q (want one of %s)", format, strings.Join(Formats(), ", "))
}

// Extension returns a format's file extension, with the dot.
func Extension(format string) string { return "." + format }

// WriteJSON writes everything recorded in c, indented.
func WriteJSON(w io.Writer, c *store.Conversation) error {
	doc := struct {
		Format       string              `json:"format"`
		Version      int                 `json:"version"`
		Conversation *store.Conversation `json:"conversation"`
	}{"interp-conversation", 1, c}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// The model: a conversation as a sequence of items.

type itemKind int

const (
	itemPrompt itemKind = iota
	itemMessage
	itemCode
	itemAnswer
	itemStop
	itemNote // task-level output outside any cell
)

type item struct {
	kind itemKind
	task *store.Task
	text string
	step int
	// code items
	cell     *store.Cell
	outputs  []store.Event // stdout, stderr, display, error, in order
	files    []store.File
	packages []store.Package
}

// items orders what happened in c: each task's prompt, then its events in
// order, with each cell's outputs gathered into it.
func items(c *store.Conversation) []*item {
	var out []*item
	tasks := map[string]*store.Task{}
	for i := range c.Tasks {
		tasks[c.Tasks[i].ID] = &c.Tasks[i]
	}
	cells := map[string]*store.Cell{}
	for i := range c.Cells {
		cells[c.Cells[i].ID] = &c.Cells[i]
	}
	// The model's text of the step that answered is the answer itself.
	answerStep := map[string]int{}
	for _, e := range c.Events {
		if e.Type == event.Answer {
			answerStep[e.TaskID] = e.Step
		}
	}
	seenTask := map[string]bool{}
	seenCell := map[string]*item{}
	nextTask, nextCell := 0, 0
	// Tasks and cells appear in order even where they recorded no event.
	ensureTask := func(id string) {
		t := tasks[id]
		if t == nil || seenTask[id] {
			return
		}
		for ; nextTask < len(c.Tasks) && c.Tasks[nextTask].Seq <= t.Seq; nextTask++ {
			tt := &c.Tasks[nextTask]
			if !seenTask[tt.ID] {
				seenTask[tt.ID] = true
				out = append(out, &item{kind: itemPrompt, task: tt, text: tt.Prompt})
			}
		}
	}
	ensureCell := func(id string) *item {
		if it := seenCell[id]; it != nil {
			return it
		}
		x := cells[id]
		if x == nil {
			return nil
		}
		ensureTask(x.TaskID)
		for ; nextCell < len(c.Cells) && c.Cells[nextCell].Seq <= x.Seq; nextCell++ {
			xx := &c.Cells[nextCell]
			if seenCell[xx.ID] == nil {
				ensureTask(xx.TaskID)
				it := &item{kind: itemCode, cell: xx, task: tasks[xx.TaskID]}
				seenCell[xx.ID] = it
				out = append(out, it)
			}
		}
		return seenCell[id]
	}
	files := map[int64]store.File{}
	for _, f := range c.Files {
		files[f.Seq] = f
	}
	packages := map[int64]store.Package{}
	for _, p := range c.Packages {
		packages[p.Seq] = p
	}
	var last *item
	for _, e := range c.Events {
		ensureTask(e.TaskID)
		task := tasks[e.TaskID]
		var cell *item
		if e.CellID != "" {
			cell = ensureCell(e.CellID)
		}
		switch e.Type {
		case event.Message:
			if s, ok := answerStep[e.TaskID]; ok && s == e.Step {
				continue
			}
			if last != nil && last.kind == itemMessage && last.task == task && last.step == e.Step {
				last.text += e.Text
				continue
			}
			last = &item{kind: itemMessage, task: task, step: e.Step, text: e.Text}
			out = append(out, last)
			continue
		case event.Answer:
			out = append(out, &item{kind: itemAnswer, task: task, step: e.Step, text: e.Text})
		case event.Stop:
			text := e.Status
			if e.Reason != "" {
				text += ": " + e.Reason
			}
			out = append(out, &item{kind: itemStop, task: task, text: text})
		case event.Stdout, event.Stderr, event.Display, event.Error:
			if cell != nil {
				cell.outputs = append(cell.outputs, e)
			} else if e.Type == event.Stderr || e.Type == event.Error {
				text := e.Text
				if e.Type == event.Error {
					text = e.EName + ": " + e.EValue
				}
				out = append(out, &item{kind: itemNote, task: task, text: text})
			}
		case event.File:
			if cell != nil {
				f, ok := files[e.Seq]
				if !ok {
					f = store.File{Path: e.Path, Size: e.Size, Change: e.Change}
				}
				cell.files = append(cell.files, f)
			}
		case event.Install:
			if p, ok := packages[e.Seq]; ok && cell != nil {
				cell.packages = append(cell.packages, p)
			}
		}
		last = nil
	}
	// Whatever recorded no event at all.
	for i := range c.Tasks {
		ensureTask(c.Tasks[i].ID)
	}
	for i := range c.Cells {
		ensureCell(c.Cells[i].ID)
	}
	return out
}

// lines splits text into lines that keep their "\n", as notebooks store
// multiline strings.
func lines(text string) []string {
	if text == "" {
		return []string{}
	}
	parts := strings.SplitAfter(text, "\n")
	if parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// promptTitle is the heading of a task.
func promptTitle(t *store.Task) string {
	if t == nil {
		return "Task"
	}
	return fmt.Sprintf("Task %d", t.Seq)
}

// quote makes text a Markdown block quote.
func quote(text string) string {
	ls := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range ls {
		if l == "" {
			ls[i] = ">"
		} else {
			ls[i] = "> " + l
		}
	}
	return strings.Join(ls, "\n")
}

// failure describes a cell that did not end well, or "".
func failure(it *item) string {
	x := it.cell
	if x.Status == event.StatusOK || x.Status == "" {
		return ""
	}
	for _, o := range it.outputs {
		if o.Type == event.Error {
			return fmt.Sprintf("%s: %s: %s", x.Status, o.EName, o.EValue)
		}
	}
	if x.Reason != "" {
		return x.Status + ": " + x.Reason
	}
	return x.Status
}
