// Package eval measures answer quality: it runs a suite of tasks through
// the real agent, each in a fresh sandboxed session with its input files,
// checks every final answer (an expected value with a tolerance, or a
// Python predicate run in the sandbox on the answer and the workspace),
// and reports accuracy, code runs, steps, tokens and wall time.
package eval

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Task is one line of a suite file (JSON Lines).
type Task struct {
	ID     string `json:"id"`
	Lang   string `json:"lang,omitempty"`
	Prompt string `json:"prompt"`
	// Files are input files, relative to the suite file's data/
	// directory, uploaded to the workspace under their base names.
	Files []string `json:"files,omitempty"`
	// Expect lists the values the answer must contain: numbers (within
	// Tolerance) or strings (as whole words, ignoring case).
	Expect []any `json:"expect,omitempty"`
	// Tolerance is relative, with a floor of 1: a number a matches e when
	// |a-e| <= Tolerance*max(1, |e|). 0 means exactly.
	Tolerance float64 `json:"tolerance,omitempty"`
	// Check is Python source defining check(answer, ws) -> bool, run in
	// the task's sandbox after the agent is done; ws is the workspace
	// directory.
	Check   string `json:"check,omitempty"`
	Source  string `json:"source,omitempty"`
	License string `json:"license,omitempty"`
}

// Suite is a list of tasks and where their files are.
type Suite struct {
	Path    string
	DataDir string
	Tasks   []Task
}

// LoadSuite reads a suite file. Its tasks' files are looked up in the
// data/ directory beside it.
func LoadSuite(path string) (*Suite, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("suite: %w", err)
	}
	defer f.Close()
	s := &Suite{Path: path, DataDir: filepath.Join(filepath.Dir(path), "data")}
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		var t Task
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&t); err != nil {
			return nil, fmt.Errorf("%s:%d: not a task: %v", path, n, err)
		}
		if err := s.validate(&t); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		if seen[t.ID] {
			return nil, fmt.Errorf("%s:%d: the id %q is used twice", path, n, t.ID)
		}
		seen[t.ID] = true
		s.Tasks = append(s.Tasks, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("suite: %w", err)
	}
	if len(s.Tasks) == 0 {
		return nil, fmt.Errorf("%s: no tasks", path)
	}
	return s, nil
}

func (s *Suite) validate(t *Task) error {
	switch {
	case t.ID == "":
		return errors.New(`the task has no "id"`)
	case t.Prompt == "":
		return fmt.Errorf("task %s has no prompt", t.ID)
	case len(t.Expect) == 0 && t.Check == "":
		return fmt.Errorf(`task %s has no checker: give "expect" or "check"`, t.ID)
	case t.Tolerance < 0:
		return fmt.Errorf("task %s: the tolerance is negative", t.ID)
	}
	for _, e := range t.Expect {
		switch e.(type) {
		case float64, string:
		default:
			return fmt.Errorf("task %s: expected values are numbers or strings, not %v", t.ID, e)
		}
	}
	if t.Check != "" && !strings.Contains(t.Check, "def check(") {
		return fmt.Errorf("task %s: check must define check(answer, ws)", t.ID)
	}
	for _, name := range t.Files {
		if filepath.IsAbs(name) || strings.Contains(name, "..") {
			return fmt.Errorf("task %s: file %q must be a plain path under data/", t.ID, name)
		}
		if _, err := os.Stat(filepath.Join(s.DataDir, name)); err != nil {
			return fmt.Errorf("task %s: input file: %v", t.ID, err)
		}
	}
	return nil
}

// Filter keeps the tasks whose ID contains one of ids (all if none), and
// the first limit of those (all if 0).
func (s *Suite) Filter(ids []string, limit int) {
	var out []Task
	for _, t := range s.Tasks {
		keep := len(ids) == 0
		for _, id := range ids {
			if strings.Contains(t.ID, id) {
				keep = true
			}
		}
		if keep && (limit == 0 || len(out) < limit) {
			out = append(out, t)
		}
	}
	s.Tasks = out
}
