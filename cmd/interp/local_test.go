package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/models"
	"github.com/interp-dev/interp/internal/python"
)

// TestRunLocalModel is the end-to-end test of the default: nothing is
// configured, so `interp run` uses the real local model (installed by
// scripts/setup) with llama.cpp, writes and runs code in a real sandbox,
// and answers with the right number. No fake model. It runs on CI, where
// a missing model fails it; elsewhere it is skipped without the model.
// Temperature 0 and the small-model mode's grammars make it repeatable.
func TestRunLocalModel(t *testing.T) {
	home := python.DefaultHome
	if h := os.Getenv("INTERP_HOME"); h != "" {
		home = h
	}
	for _, p := range []string{filepath.Join(home, "bin", "llama-server"), filepath.Join(home, "models")} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing: scripts/setup installs the local model and its runtime", p)
			}
			t.Skipf("%s is missing: run scripts/setup", p)
		}
	}
	if _, err := (&models.Store{Dir: filepath.Join(home, "models")}).Path(models.DefaultModel); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	for _, k := range []string{"OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "OLLAMA_HOST", "INTERP_PROVIDER", "INTERP_MODEL"} {
		t.Setenv(k, "")
	}
	t.Setenv("INTERP_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	dir := t.TempDir()
	t.Chdir(dir)
	// The mean of x is 37.25: not a number a model would guess.
	if err := os.WriteFile("data.csv", []byte("x,y\n12,1\n45,2\n30.5,3\n61.5,4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := interp(t, "", "run", "--yes", "--no-out", "-f", "data.csv", "What is the average of column x in data.csv?")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if n := strings.Count(errOut, "Using the local model "+models.DefaultModel); n != 1 {
		t.Errorf("the fallback to the local model was said %d times, want once:\n%s", n, errOut)
	}
	if !strings.Contains(out, "```python") {
		t.Errorf("no code was run:\n%s", out)
	}
	if !strings.Contains(out, "37.25") {
		t.Errorf("the answer lacks 37.25:\nstdout: %s\nstderr: %s", out, errOut)
	}
}
