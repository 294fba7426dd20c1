package export

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/store"
)

// The notebook's JSON, field by field in nbformat's order. Maps are
// written with sorted keys, so the output is deterministic.

type notebook struct {
	Cells         []any        `json:"cells"`
	Metadata      notebookMeta `json:"metadata"`
	NBFormat      int          `json:"nbformat"`
	NBFormatMinor int          `json:"nbformat_minor"`
}

type notebookMeta struct {
	Kernelspec   kernelspec   `json:"kernelspec"`
	LanguageInfo languageInfo `json:"language_info"`
	Interp       interpMeta   `json:"interp"`
}

type kernelspec struct {
	DisplayName string `json:"display_name"`
	Language    string `json:"language"`
	Name        string `json:"name"`
}

type languageInfo struct {
	CodemirrorMode    map[string]any `json:"codemirror_mode"`
	FileExtension     string         `json:"file_extension"`
	Mimetype          string         `json:"mimetype"`
	Name              string         `json:"name"`
	NBConvertExporter string         `json:"nbconvert_exporter"`
	PygmentsLexer     string         `json:"pygments_lexer"`
}

type interpMeta struct {
	Conversation string `json:"conversation"`
	Kind         string `json:"kind"`
	Title        string `json:"title,omitempty"`
	Provider     string `json:"provider,omitempty"`
	Model        string `json:"model,omitempty"`
	CreatedAt    string `json:"created_at"`
}

type markdownCell struct {
	CellType string         `json:"cell_type"`
	ID       string         `json:"id"`
	Metadata map[string]any `json:"metadata"`
	Source   []string       `json:"source"`
}

type codeCell struct {
	CellType       string         `json:"cell_type"`
	ExecutionCount *int           `json:"execution_count"`
	ID             string         `json:"id"`
	Metadata       map[string]any `json:"metadata"`
	Outputs        []any          `json:"outputs"`
	Source         []string       `json:"source"`
}

type streamOutput struct {
	OutputType string   `json:"output_type"`
	Name       string   `json:"name"`
	Text       []string `json:"text"`
}

type displayOutput struct {
	OutputType string         `json:"output_type"`
	Data       map[string]any `json:"data"`
	Metadata   map[string]any `json:"metadata"`
}

type executeResult struct {
	OutputType     string         `json:"output_type"`
	ExecutionCount *int           `json:"execution_count"`
	Data           map[string]any `json:"data"`
	Metadata       map[string]any `json:"metadata"`
}

type errorOutput struct {
	OutputType string   `json:"output_type"`
	EName      string   `json:"ename"`
	EValue     string   `json:"evalue"`
	Traceback  []string `json:"traceback"`
}

// WriteNotebook writes c as a Jupyter notebook, nbformat 4.5.
func WriteNotebook(w io.Writer, c *store.Conversation) error {
	nb := notebook{
		Cells: []any{},
		Metadata: notebookMeta{
			Kernelspec: kernelspec{DisplayName: "Python 3", Language: "python", Name: "python3"},
			LanguageInfo: languageInfo{
				CodemirrorMode:    map[string]any{"name": "ipython", "version": 3},
				FileExtension:     ".py",
				Mimetype:          "text/x-python",
				Name:              "python",
				NBConvertExporter: "python",
				PygmentsLexer:     "ipython3",
			},
			Interp: interpMeta{
				Conversation: c.ID, Kind: c.Kind, Title: c.Title, Provider: c.Provider, Model: c.Model,
				CreatedAt: c.CreatedAt.UTC().Format(time.RFC3339),
			},
		},
		NBFormat:      4,
		NBFormatMinor: 5,
	}
	n := 0
	md := func(role string, it *item, text string) {
		n++
		meta := map[string]any{"interp": roleMeta(role, it)}
		nb.Cells = append(nb.Cells, markdownCell{CellType: "markdown", ID: fmt.Sprintf("md-%d", n), Metadata: meta, Source: lines(text)})
	}
	if c.Title != "" {
		md("title", nil, "# "+c.Title)
	}
	for _, it := range items(c) {
		switch it.kind {
		case itemPrompt:
			md("user", it, fmt.Sprintf("**%s**\n\n%s", promptTitle(it.task), quote(it.text)))
		case itemMessage:
			md("assistant", it, it.text)
		case itemAnswer:
			md("answer", it, "**Answer**\n\n"+it.text)
		case itemStop:
			md("stop", it, fmt.Sprintf("*Stopped (%s)*", it.text))
		case itemNote:
			md("note", it, "```text\n"+it.text+"\n```")
		case itemCode:
			nb.Cells = append(nb.Cells, notebookCode(it))
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	return enc.Encode(nb)
}

func roleMeta(role string, it *item) map[string]any {
	m := map[string]any{"role": role}
	if it != nil && it.task != nil {
		m["task"] = it.task.ID
	}
	if it != nil && it.step > 0 {
		m["step"] = it.step
	}
	return m
}

func notebookCode(it *item) codeCell {
	x := it.cell
	var count *int
	if x.ExecutionCount > 0 {
		n := x.ExecutionCount
		count = &n
	}
	meta := map[string]any{
		"status":      x.Status,
		"duration":    x.Duration,
		"cpu_time":    x.CPUTime,
		"peak_memory": x.PeakMemory,
		"started_at":  x.StartedAt.UTC().Format(time.RFC3339Nano),
	}
	if x.Reason != "" {
		meta["reason"] = x.Reason
	}
	if x.TaskID != "" {
		meta["task"] = x.TaskID
	}
	if x.Step > 0 {
		meta["step"] = x.Step
	}
	if len(it.files) > 0 {
		var fs []map[string]any
		for _, f := range it.files {
			m := map[string]any{"path": f.Path, "size": f.Size, "change": f.Change}
			if f.SHA256 != "" {
				m["sha256"] = f.SHA256
			}
			fs = append(fs, m)
		}
		meta["files"] = fs
	}
	if len(it.packages) > 0 {
		var ps []map[string]any
		for _, p := range it.packages {
			ps = append(ps, map[string]any{"name": p.Name, "version": p.Version, "phase": p.Phase})
		}
		meta["packages"] = ps
	}
	cell := codeCell{
		CellType:       "code",
		ExecutionCount: count,
		ID:             notebookID(x.ID),
		Metadata:       map[string]any{"interp": meta},
		Outputs:        []any{},
		Source:         lines(x.Code),
	}
	var stream *streamOutput
	for _, o := range it.outputs {
		switch o.Type {
		case event.Stdout, event.Stderr:
			if stream != nil && stream.Name == o.Type {
				stream.Text = appendText(stream.Text, o.Text)
				continue
			}
			stream = &streamOutput{OutputType: "stream", Name: o.Type, Text: lines(o.Text)}
			cell.Outputs = append(cell.Outputs, stream)
			continue
		case event.Display:
			cell.Outputs = append(cell.Outputs, displayData(o, count))
		case event.Error:
			tb := o.Traceback
			if tb == nil {
				tb = []string{}
			}
			cell.Outputs = append(cell.Outputs, errorOutput{OutputType: "error", EName: o.EName, EValue: o.EValue, Traceback: tb})
		}
		stream = nil
	}
	return cell
}

// appendText adds text to a stream's lines, joining a line that had no
// newline yet with the next piece.
func appendText(ls []string, text string) []string {
	if n := len(ls); n > 0 && len(ls[n-1]) > 0 && ls[n-1][len(ls[n-1])-1] != '\n' {
		more := lines(ls[n-1] + text)
		return append(ls[:n-1], more...)
	}
	return append(ls, lines(text)...)
}

// displayData makes a display event a display_data output, or an
// execute_result where the session marked it as the value of the cell's
// last expression (metadata "interp": {"execute_result": true}).
func displayData(o store.Event, count *int) any {
	data := map[string]any{}
	for mime, v := range o.Data {
		if s, ok := v.(string); ok && textMIME(mime) {
			data[mime] = lines(s)
			continue
		}
		data[mime] = v
	}
	meta := map[string]any{}
	result := false
	for k, v := range o.Metadata {
		if k == "interp" {
			if m, ok := v.(map[string]any); ok && m["execute_result"] == true {
				result = true
			}
			continue
		}
		meta[k] = v
	}
	if result {
		return executeResult{OutputType: "execute_result", ExecutionCount: count, Data: data, Metadata: meta}
	}
	return displayOutput{OutputType: "display_data", Data: data, Metadata: meta}
}

// textMIME tells the types a notebook stores as multiline text.
func textMIME(mime string) bool {
	return !binaryImage(mime) && mime != "application/json" && !isJSONMIME(mime)
}

func isJSONMIME(mime string) bool {
	return len(mime) > 5 && mime[len(mime)-5:] == "+json"
}

// binaryImage tells the types whose values are base64.
func binaryImage(mime string) bool {
	switch mime {
	case "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "application/pdf":
		return true
	}
	return false
}

// notebookID makes an ID fit nbformat's pattern: 1 to 64 of [a-zA-Z0-9-_].
func notebookID(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			b[i] = '-'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	if len(b) == 0 {
		return "cell"
	}
	return string(b)
}
