package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/syncbuf"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm/llmtest"
	"github.com/interp-dev/interp/internal/store"
)

// TestBrowser runs the Playwright tests in e2e/ in Debian's Chromium
// against a real interp serve (and an interp ui) built from this tree,
// with real sandboxes and a scripted fake model that each browser test
// scripts through a small control endpoint.
//
// It needs the UI built (dist/ui), web/node_modules and /usr/bin/chromium:
// make test installs them. Elsewhere it is skipped, saying why; on CI it
// fails instead.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the browser tests take minutes")
	}
	for _, need := range []struct{ path, why string }{
		{"dist/ui/index.html", "the UI is not built (make web)"},
		{"node_modules/.bin/playwright", "web/node_modules is missing (npm ci in web/)"},
		{chromium(), "Chromium is missing (apt-get install chromium)"},
	} {
		if _, err := os.Stat(need.path); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s: %s", need.path, need.why)
			}
			t.Skipf("%s: %s", need.path, need.why)
		}
	}
	bin := buildInterp(t)
	fake := llmtest.NewOpenAIServer(t)
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var turns []llmtest.Turn
		if err := json.NewDecoder(r.Body).Decode(&turns); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fake.Script(turns...)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(control.Close)

	dir := t.TempDir()
	env := append(os.Environ(),
		"INTERP_CONFIG="+filepath.Join(dir, "none.yaml"),
		"OPENAI_BASE_URL="+fake.URL, "OPENAI_API_KEY=test-key",
		"HOME="+dir,
	)
	db := filepath.Join(dir, "serve.db")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("interp %s: %v\n%s", strings.Join(args, " "), err, stderrOf(err))
		}
		return strings.TrimSpace(string(out))
	}
	run("admin", "user", "create", "alice", "--db", db)
	key := run("admin", "key", "create", "alice", "--db", db)
	var benchConv string
	if os.Getenv("E2E_BENCH") != "" {
		benchConv = recordLongConversation(t, db, "alice", 300, 100)
	}

	addr := freeAddr(t)
	serveLog := &syncbuf.Buffer{}
	startProcess(t, env, serveLog, bin, "serve", "--listen", addr, "--db", db, "--provider", "openai", "--model", "gpt-test",
		"--log-level", "warn", "--pool", "1", "--quota-sessions", "-1", "--quota-executions", "-1")
	waitHealthy(t, "http://"+addr, serveLog)

	uiLog := &syncbuf.Buffer{}
	uiOut := startProcess(t, env, uiLog, bin, "ui", "--no-browser", "--db", filepath.Join(dir, "ui.db"), "--provider", "openai", "--model", "gpt-test")
	uiURL := readUIURL(t, uiOut)

	// E2E_ARGS passes more arguments to playwright test, such as a file
	// or --grep, to run a few of the tests.
	cmd := exec.Command("node_modules/.bin/playwright", append([]string{"test"}, strings.Fields(os.Getenv("E2E_ARGS"))...)...)
	cmd.Env = append(os.Environ(),
		"E2E_BASE_URL=http://"+addr, "E2E_KEY="+key, "E2E_CONTROL="+control.URL, "E2E_UI_URL="+uiURL,
		"E2E_CHROMIUM="+chromium(), "E2E_BENCH_CONV="+benchConv)
	out := &syncbuf.Buffer{}
	var w io.Writer = out
	if testing.Verbose() {
		w = io.MultiWriter(out, os.Stderr)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	if !testing.Verbose() {
		t.Logf("playwright:\n%s", out.String())
	}
	if err != nil {
		t.Errorf("the browser tests failed: %v\ninterp serve's log:\n%s\ninterp ui's log:\n%s", err, tailOf(serveLog.String(), 60), tailOf(uiLog.String(), 20))
	}
}

// recordLongConversation records a finished task of steps steps, images of
// them with a plot-sized PNG, in the history of user, for the scrolling
// benchmark; it returns the conversation's ID.
func recordLongConversation(t *testing.T, db, user string, steps, images int) string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.GetUser(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := st.NewConversation(ctx, store.ConversationInfo{Kind: store.KindChat, Provider: "openai", Model: "gpt-test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetConversationUser(ctx, conv, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.SetTitle(ctx, conv, "A long analysis"); err != nil {
		t.Fatal(err)
	}
	rec, err := st.StartTask(ctx, conv, "Analyse everything, step by step", nil)
	if err != nil {
		t.Fatal(err)
	}
	png := base64.StdEncoding.EncodeToString(plotPNG(t))
	ev := func(step int, e event.Event) {
		if err := rec.Event(event.Task{Event: e, Step: step}); err != nil {
			t.Fatal(err)
		}
	}
	every := max(steps/max(images, 1), 1)
	for i := 1; i <= steps; i++ {
		ev(i, event.Event{Type: event.Message, Text: fmt.Sprintf("Step %d: looking at the next column of the data.", i)})
		ev(i, event.Event{Type: event.Tool, Text: fmt.Sprintf("import pandas as pd\ncol = df.columns[%d %% len(df.columns)]\nprint(col, df[col].mean())", i)})
		ev(i, event.Event{Type: event.Stdout, Text: fmt.Sprintf("col_%d %.3f\n", i, float64(i)*1.37)})
		if i%every == 0 {
			ev(i, event.Event{Type: event.Display, Data: map[string]any{"image/png": png, "text/plain": "<Figure size 640x480 with 1 Axes>"}})
		}
		ev(i, event.Event{Type: event.Done, Status: "ok", Duration: 0.05})
	}
	ev(steps+1, event.Event{Type: event.Answer, Text: "Every column is analysed."})
	if err := rec.Finish(ctx, &store.TaskResult{Stop: event.StopAnswer, Answer: "Every column is analysed.", Steps: steps + 1}, nil); err != nil {
		t.Fatal(err)
	}
	return conv
}

// plotPNG is a 640x480 PNG with a plot's amount of detail.
func plotPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for y := 0; y < 480; y++ {
		for x := 0; x < 640; x++ {
			img.Set(x, y, color.RGBA{255, 255, 255, 255})
		}
	}
	for x := 0; x < 640; x++ {
		y := 240 + int(180*math.Sin(float64(x)/40))
		for d := -1; d <= 1; d++ {
			img.Set(x, y+d, color.RGBA{36, 87, 197, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func chromium() string {
	if p := os.Getenv("E2E_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// buildInterp builds interp and interp-sandbox, with the UI embedded.
func buildInterp(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"interp", "interp-sandbox"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "../cmd/"+name)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, out)
		}
	}
	return filepath.Join(dir, "interp")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startProcess starts a long-running interp, stopped at the test's end;
// it returns its stdout.
func startProcess(t *testing.T, env []string, log io.Writer, bin string, args ...string) io.Reader {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stderr = log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return stdout
}

func waitHealthy(t *testing.T, base string, log *syncbuf.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not become healthy:\n%s", base, tailOf(log.String(), 30))
}

var uiLink = regexp.MustCompile(`http://127\.0\.0\.1:\d+/\?token=[A-Za-z0-9_-]+`)

// readUIURL reads the sign-in link interp ui prints, and keeps draining
// its output.
func readUIURL(t *testing.T, r io.Reader) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if m := uiLink.FindString(sc.Text()); m != "" {
				select {
				case found <- m:
				default:
				}
			}
		}
	}()
	select {
	case u := <-found:
		return u
	case <-time.After(time.Minute):
		t.Fatal("interp ui printed no link")
		return ""
	}
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return fmt.Sprint(err)
}

func tailOf(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
