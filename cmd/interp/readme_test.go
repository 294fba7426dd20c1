package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/llm/llmtest"
)

// readmeCommands returns the lines of README.md's sh blocks, with
// backslash continuations joined.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pkgDir, "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	in := false
	cont := ""
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```sh"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in && strings.TrimSpace(line) != "":
			if c, ok := strings.CutSuffix(line, "\\"); ok {
				cont += c
				continue
			}
			cmds = append(cmds, cont+line)
			cont = ""
		}
	}
	return cmds
}

// notRunHere are README commands this test does not run, each with why.
var notRunHere = map[string]string{
	"scripts/setup":             "it is what CI runs before the tests",
	"make test":                 "it is what runs this test",
	"bin/interp chat":           "it needs a person at a terminal; its pieces are tested in internal/chat and TestChatResumeUnknownID",
	"bin/interp eval":           "the suite takes many model turns; internal/eval tests it",
	"bin/interp run --provider": "it needs the real local model or a cloud provider; TestRunLocalModel runs the local one",
	"bin/interp models pull":    "it downloads a model; internal/models tests fetching against a local index",
	"bin/interp models rm":      "it would remove a model this machine's other tests use; internal/models tests removal",
	"bin/interp models add":     "it needs a GGUF file of the user's; internal/models tests adding one",
	"bin/interp models serve":   "it serves until stopped; internal/llamacpp tests the server",
	"bin/interp ui":             "it serves until stopped and opens a browser; the web tests drive it",
	"sudo eval/peer/run":        "it installs Open Interpreter and runs the suite on the model for many minutes; interp eval --replay, which checks its answers, is tested by TestEvalReplay",
}

// readmeCommandTimeout bounds one README command, so that a command that
// waits for something the test does not give fails with its name instead
// of running into the whole test binary's time limit.
const readmeCommandTimeout = 5 * time.Minute

// TestReadmeCommands runs the README's commands as a new user would, in a
// fresh directory, with a scripted model: the front door stays true.
func TestReadmeCommands(t *testing.T) {
	needSandbox(t)
	dir := t.TempDir()
	t.Chdir(dir)
	os.Mkdir("bin", 0o755)
	// bin/interp is this test binary, run as interp.
	os.WriteFile("bin/interp", []byte("#!/bin/sh\nINTERP_TEST_RUN_MAIN=1 exec "+os.Args[0]+" \"$@\"\n"), 0o755)
	os.WriteFile("data.csv", []byte("a,b\n1,2\n3,4\n"), 0o644)
	os.WriteFile("plot.py", []byte("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\n"), 0o644)
	os.WriteFile("analyse.py", []byte("import pandas as pd\npd.read_csv('data.csv').mean().to_csv('means.csv')\n"), 0o644)
	os.WriteFile("script.py", []byte("import numpy, requests\n"), 0o644)
	t.Setenv("INTERP_HISTORY", filepath.Join(dir, "history.db"))
	t.Setenv("INTERP_CONFIG", filepath.Join(dir, "none.yaml"))
	t.Setenv("OPENAI_API_KEY", "test-key")
	sine := `{"code": "import numpy as np, matplotlib.pyplot as plt\nx = np.linspace(0, 6.3)\nplt.plot(x, np.sin(x))\nplt.savefig('sine.png')"}`
	means := `{"code": "import pandas as pd\nm = pd.read_csv('data.csv').mean()\nm.plot.bar()\nprint(m)"}`
	srv := llmtest.NewOpenAIServer(t,
		llmtest.Turn{ToolCalls: []llmtest.Call{{Name: "run_python", Arguments: sine}}},
		llmtest.Turn{Text: "Saved sine.png."},
		llmtest.Turn{ToolCalls: []llmtest.Call{{Name: "run_python", Arguments: means}}},
		llmtest.Turn{Text: "a 的平均值是 2，b 是 3。"},
		llmtest.Turn{Text: "ok"}, // doctor --model's one tiny request
	)
	t.Setenv("OPENAI_BASE_URL", srv.URL)

	var convID, key, sessionID string
	var serve *exec.Cmd
	defer func() {
		if serve != nil {
			serve.Process.Kill()
			serve.Wait()
		}
	}()
	port := freePort(t)
	for _, line := range readmeCommands(t) {
		skip := ""
		for prefix, why := range notRunHere {
			if strings.HasPrefix(line, prefix) {
				skip = why
			}
		}
		if skip != "" {
			t.Logf("not run here (%s): %s", skip, line)
			continue
		}
		line = strings.ReplaceAll(line, "conv_3f2a", convID)
		line = strings.ReplaceAll(line, "8080", port)
		if strings.HasPrefix(line, "bin/interp serve") {
			serve = exec.Command("sh", "-c", "exec "+line)
			serve.Stderr = os.Stderr
			if err := serve.Start(); err != nil {
				t.Fatal(err)
			}
			waitHealthy(t, "http://127.0.0.1:"+port+"/healthz")
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), readmeCommandTimeout)
		cmd := exec.CommandContext(ctx, "bash", "-c", line)
		cmd.WaitDelay = 10 * time.Second // a child left holding stdout does not hold the test
		cmd.Env = append(os.Environ(), "KEY="+key, "ID="+sessionID)
		cmd.Stdin = strings.NewReader("y\n") // run asks before running code
		out, err := cmd.Output()
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("%s: still running after %v (a README command that waits for something should be in notRunHere, with why)", line, readmeCommandTimeout)
		}
		if err != nil {
			var stderr string
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("%s: %v\n%s\n%s", line, err, out, stderr)
		}
		t.Logf("%s\n%s", line, out)
		switch {
		case strings.HasPrefix(line, "bin/interp run \"Plot a sine"):
			if _, err := os.Stat("sine.png"); err != nil {
				t.Errorf("the README's first command left no sine.png here: %v", err)
			}
		case strings.Contains(line, "exec a.py b.py") && string(out) != "42\n":
			t.Errorf("%s printed %q", line, out)
		case strings.Contains(line, "humanize") && !strings.Contains(string(out), "1.0 GB"):
			t.Errorf("%s printed %q", line, out)
		case strings.HasPrefix(line, "bin/interp history list"):
			m := regexp.MustCompile(`conv_\w+`).FindAllString(string(out), -1)
			if len(m) == 0 {
				t.Fatalf("history list shows no conversation: %s", out)
			}
			convID = m[len(m)-1] // the oldest: the sine wave's
		case strings.HasPrefix(line, "bin/interp admin key create"):
			key = strings.TrimSpace(string(out))
		case strings.Contains(line, "-X POST localhost:"+port+"/v1/sessions"):
			var s struct{ ID string }
			if err := json.Unmarshal(out, &s); err != nil || s.ID == "" {
				t.Fatalf("session not created: %v %s", err, out)
			}
			sessionID = s.ID
		case strings.Contains(line, "/execute/stream") && !strings.Contains(string(out), `"text":"2\n"`):
			t.Errorf("the streamed execution did not print 2: %s", out)
		}
	}
	for _, f := range []string{"out", "results/means.csv", "chat.ipynb"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s missing after the README's commands: %v", f, err)
		}
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func waitHealthy(t *testing.T, url string) {
	for {
		if r, err := http.Get(url); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return
			}
		}
		if dl, ok := t.Deadline(); ok && time.Until(dl) < 30*time.Second {
			t.Fatalf("%s never answered", url)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
