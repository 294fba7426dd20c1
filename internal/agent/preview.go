package agent

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/session"
)

// previewCode prints the shape, columns, dtypes and first rows of each
// table in the workspace, and loads each into the session (df, or
// df_<name> for several) unless the name is taken, so that the model has
// one thing less to get wrong. It runs in the sandbox, like the model's
// code: the files are the user's, and reading them is no business of the
// host.
//
//go:embed preview.py
var previewCode string

// Bounds of the preview, so that it never crowds the prompt.
const (
	// Importing pandas takes a few seconds, and many more on a loaded
	// machine.
	previewTimeout = 60 * time.Second
	maxPreview     = 4000 // bytes
)

// columnsMarker starts the preview's last line: the columns of each
// loaded table, as JSON, for the error hints.
const columnsMarker = "#interp-columns "

// tables maps the name of each table loaded in the session to its file
// and columns.
type tables map[string]table

type table struct {
	Path    string   `json:"path"`
	Columns []string `json:"columns"`
}

// dataPreview returns a preview of the tables in the workspace and their
// columns, or "" if there are none or it failed: the preview is a help,
// never a condition.
func (a *Agent) dataPreview(ctx context.Context) (string, tables) {
	var out session.Outcome
	done, err := a.cfg.Session.Execute(ctx, previewCode, session.ExecOptions{Timeout: previewTimeout}, out.Add)
	if err != nil || done.Status != event.StatusOK {
		return "", nil
	}
	text := strings.TrimSpace(out.Stdout())
	var cols tables
	if i := strings.LastIndex(text, columnsMarker); i >= 0 {
		_ = json.Unmarshal([]byte(text[i+len(columnsMarker):]), &cols)
		text = strings.TrimSpace(text[:i])
	}
	if len(text) > maxPreview {
		text = text[:maxPreview] + "\n[preview cut]"
	}
	return text, cols
}

var (
	nameErrorRE = regexp.MustCompile(`^name '([^']+)' is not defined`)
	keyErrorRE  = regexp.MustCompile(`^["']([^"']*)["']$`)
)

// hint says what a small model got wrong about the loaded tables, from
// the error its code raised: a column used as a bare name, a name for
// a table that is loaded as another, or a column that does not exist; ""
// if the error is about something else.
func (ts tables) hint(ename, evalue string) string {
	if len(ts) == 0 {
		return ""
	}
	var missing string
	switch ename {
	case "NameError":
		m := nameErrorRE.FindStringSubmatch(evalue)
		if m == nil {
			return ""
		}
		var loaded []string
		tableLike := strings.HasPrefix(m[1], "df") || strings.HasSuffix(m[1], "df") || slices.Contains([]string{"data", "dataset", "table"}, m[1])
		for _, name := range ts.names() {
			if slices.Contains(ts[name].Columns, m[1]) {
				return fmt.Sprintf("%s is a column, not a variable: write %s[%q].", m[1], name, m[1])
			}
			path := ts[name].Path
			stem := strings.ToLower(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
			tableLike = tableLike || strings.Contains(strings.ToLower(m[1]), stem)
			loaded = append(loaded, fmt.Sprintf("%s is loaded as %s", path, name))
		}
		if !tableLike {
			return ""
		}
		return fmt.Sprintf("%s is not defined: %s.", m[1], strings.Join(loaded, "; "))
	case "KeyError":
		m := keyErrorRE.FindStringSubmatch(strings.TrimSpace(evalue))
		if m == nil {
			return ""
		}
		missing = m[1]
	default:
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "There is no column %q.", missing)
	for _, name := range ts.names() {
		if slices.Contains(ts[name].Columns, missing) {
			return "" // a column of some table: the error is elsewhere
		}
		cols := ts[name].Columns
		quoted := make([]string, 0, min(len(cols), 40))
		for _, c := range cols[:min(len(cols), 40)] {
			quoted = append(quoted, strconv.Quote(c))
		}
		fmt.Fprintf(&b, " The columns of %s are: %s.", name, strings.Join(quoted, ", "))
	}
	return b.String()
}

// names are the tables' names, sorted.
func (ts tables) names() []string {
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
