package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/session"
)

// corpusCase is one script of internal/deps/testdata/corpus with what a
// user should see when running it (see the README there).
type corpusCase struct {
	file, category string
	exit           int
	stdout, stderr []string
	rerun          int // -1: not run again
}

func loadCorpus(t *testing.T) []corpusCase {
	t.Helper()
	dir, err := filepath.Abs("../../internal/deps/testdata/corpus")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.py"))
	if err != nil || len(files) < 20 {
		t.Fatalf("corpus: %d files (%v)", len(files), err)
	}
	var out []corpusCase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c := corpusCase{file: f, rerun: -1}
		for _, line := range strings.Split(string(data), "\n") {
			key, val, ok := strings.Cut(strings.TrimPrefix(line, "# "), ": ")
			if !strings.HasPrefix(line, "# ") || !ok {
				break
			}
			switch key {
			case "category":
				c.category = val
			case "exit":
				c.exit, _ = strconv.Atoi(val)
			case "stdout":
				c.stdout = append(c.stdout, val)
			case "stderr":
				c.stderr = append(c.stderr, val)
			case "rerun":
				c.rerun, _ = strconv.Atoi(val)
			}
		}
		out = append(out, c)
	}
	return out
}

// TestCorpus runs real scripts, one failure cause each (version drift,
// source-only projects, guesses that provide nothing, host applications'
// modules, Python 2), through interp exec with real installs from PyPI,
// and checks what a user sees.
func TestCorpus(t *testing.T) {
	needSandbox(t)
	// A cache of its own: what version searches learn is kept there, and
	// the first run of each script must be a first run.
	// Not under /tmp: build requirements are shown to a build sandbox at
	// their own path, which its private /tmp would cover.
	dir, err := os.MkdirTemp(session.DefaultStateDir(), "corpus-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	_ = os.Chmod(dir, 0o755) // uv runs as nobody when we are root
	cache := filepath.Join(dir, "cache")
	t.Setenv("INTERP_CACHE_DIR", cache)
	for _, c := range loadCorpus(t) {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			code, out, errOut := interp(t, "", "exec", "--no-history", c.file)
			if code != c.exit {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, c.exit, out, errOut)
			}
			for _, s := range c.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range c.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			if c.rerun >= 0 {
				if code, out, errOut := interp(t, "", "exec", "--no-history", c.file); code != c.rerun {
					t.Errorf("second run: exit status %d, want %d\nstdout: %s\nstderr: %s", code, c.rerun, out, errOut)
				}
			}
		})
	}
}

// interp deps says that Python 2 code is Python 2 code, as exec does.
func TestDepsPython2(t *testing.T) {
	dir, err := filepath.Abs("../../internal/deps/testdata/corpus")
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut := interp(t, "", "deps", filepath.Join(dir, "python2_urllib2_print.py"))
	if code == exitOK || !strings.Contains(errOut, "this is Python 2 code (the print statement") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	code, out, errOut := interp(t, "", "deps", filepath.Join(dir, "python2_stringio.py"))
	if code != exitOK || !strings.Contains(out, "StringIO is a Python 2 module; in Python 3 use io.StringIO") {
		t.Errorf("exit %d: %s %s", code, out, errOut)
	}
}
