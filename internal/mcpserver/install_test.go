package mcpserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/syncbuf"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/deps/pypitest"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/session"
)

// TestInstallProgressNotifications: a run_python call that needs a
// package, made with a progress token, gets notifications/progress while
// the package installs: with the download's total, progress that only
// grows, all before the result. uv announces downloads over 1 MiB, so
// the package from the local index carries 2 MiB that do not compress.
func TestInstallProgressNotifications(t *testing.T) {
	t.Parallel()
	noise := make([]byte, 3<<19)
	rand.Read(noise)
	idx := pypitest.NewIndex(t, pypitest.Package{Name: "bigwheel", Version: "1.0", Modules: map[string]string{
		"bigwheel/__init__.py": "from bigwheel.data import DATA\nSIZE = len(DATA)\n",
		"bigwheel/data.py":     "DATA = '" + base64.StdEncoding.EncodeToString(noise) + "'\n",
	}})
	srv := newServer(t, func(c *Config) {
		if c.Auto == nil {
			return
		}
		c.Auto.Installer.IndexURL = idx.URL()
		c.Auto.Installer.Store = &deps.Store{Dir: filepath.Join(c.StateDir, "store")}
	})
	if srv.cfg.Auto == nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("uv is not installed on CI: scripts/setup must install it")
		}
		t.Skip("uv is not installed: run scripts/setup")
	}
	// The client's side of the wire, in the order messages arrived.
	wire := &syncbuf.Buffer{}
	st, ct := mcp.NewInMemoryTransports()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := srv.MCP().Connect(ctx, st, nil); err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).
		Connect(ctx, &mcp.LoggingTransport{Transport: ct, Writer: wire}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	params := &mcp.CallToolParams{Name: ToolRunPython, Arguments: map[string]any{"code": "import bigwheel\nprint(bigwheel.SIZE)"}}
	params.SetProgressToken("install-1")
	res, err := cs.CallTool(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if out := structured[RunPythonOutput](t, res); res.IsError || out.Stdout != "2097152\n" {
		t.Fatalf("run_python: %s", textOf(res))
	}

	var seen []mcp.ProgressNotificationParams
	result := false
	for _, line := range strings.Split(wire.String(), "\n") {
		msg, ok := strings.CutPrefix(line, "read: ")
		if !ok {
			continue
		}
		var m struct {
			Method string
			Params mcp.ProgressNotificationParams
			Result *json.RawMessage
		}
		if err := json.Unmarshal([]byte(msg), &m); err != nil {
			t.Fatalf("%s: %v", msg, err)
		}
		switch {
		case m.Method == "notifications/progress" && result:
			t.Errorf("progress after the result: %s", msg)
		case m.Method == "notifications/progress":
			seen = append(seen, m.Params)
		case m.Result != nil && strings.Contains(msg, "bigwheel"):
			result = true
		}
	}
	var msgs []string
	withTotal := false
	for i, p := range seen {
		msgs = append(msgs, fmt.Sprintf("%g/%g %s", p.Progress, p.Total, p.Message))
		if p.ProgressToken != "install-1" {
			t.Errorf("notification %d has token %v", i, p.ProgressToken)
		}
		if i > 0 && p.Progress <= seen[i-1].Progress {
			t.Errorf("progress went from %g to %g", seen[i-1].Progress, p.Progress)
		}
		if p.Total > 0 {
			withTotal = true
			if p.Progress > p.Total || p.Total < 1<<20 {
				t.Errorf("progress %g of %g: want a total of at least 1 MiB (the wheel is 1.5 MiB), and no more progress than that", p.Progress, p.Total)
			}
		}
	}
	t.Logf("%d notifications:\n%s", len(seen), strings.Join(msgs, "\n"))
	if !withTotal {
		t.Errorf("no notification has a total")
	}
	if len(seen) == 0 || !strings.Contains(seen[len(seen)-1].Message, "installed bigwheel") {
		t.Errorf("the last notification before the result is not the install's end")
	}
}

// TestProgressCount: the installer's three kinds of download event (a
// package begins, ends, and the bytes of all in flight) add up to bytes
// of a total that never goes back, whatever their order.
func TestProgressCount(t *testing.T) {
	t.Parallel()
	dl := func(pkg string, bytes, total int64) session.Event {
		return session.Event{Type: event.Install, Phase: event.PhaseDownloading, Package: pkg, Bytes: bytes, Total: total}
	}
	p := &progress{sizes: map[string]int64{}, finished: map[string]bool{}}
	for i, tt := range []struct {
		ev           session.Event
		bytes, total int64
	}{
		{dl("a", 0, 100), 0, 100},
		{dl("b", 0, 300), 0, 400},
		{dl("a b", 150, 400), 150, 400},
		{dl("a", 100, 100), 150, 400}, // a is done; b's bytes were counted above
		{dl("b", 350, 400), 350, 400},
		{dl("b", 300, 300), 400, 400},
		{session.Event{Type: event.Install, Phase: event.PhaseInstalled, Package: "a"}, 400, 400},
	} {
		if b, total := p.count(tt.ev); b != tt.bytes || total != tt.total {
			t.Errorf("event %d (%+v): %d of %d, want %d of %d", i, tt.ev, b, total, tt.bytes, tt.total)
		}
	}
}

// TestPrewarmedPackages: with the store's prewarmed packages as
// PrepareSite (as interp mcp wires install.prewarm), a client's first
// run_python imports one with no install at all.
func TestPrewarmedPackages(t *testing.T) {
	t.Parallel()
	idx := pypitest.NewIndex(t, pypitest.Package{Name: "warmpkg", Version: "1.0", Modules: map[string]string{"warmpkg/__init__.py": "X = 'warm'\n"}})
	srv := newServer(t, func(c *Config) {
		if c.Auto == nil {
			return
		}
		in := c.Auto.Installer
		in.IndexURL = idx.URL()
		in.Store = &deps.Store{Dir: filepath.Join(c.StateDir, "store")}
		if err := in.Pin(context.Background(), []deps.Requirement{{Name: "warmpkg"}}, nil); err != nil {
			t.Fatal(err)
		}
		c.PrepareSite = in.Store.LinkPinned
	})
	if srv.cfg.Auto == nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("uv is not installed on CI: scripts/setup must install it")
		}
		t.Skip("uv is not installed: run scripts/setup")
	}
	requests := len(idx.Requests())
	_, out := run(t, connect(t, srv), "import warmpkg\nprint(warmpkg.X)")
	if out.Stdout != "warm\n" || len(out.Installed) != 0 {
		t.Errorf("a prewarmed package: stdout %q, installed %+v, want warm with no install", out.Stdout, out.Installed)
	}
	if n := len(idx.Requests()); n != requests {
		t.Errorf("the index was asked %d times", n-requests)
	}
}

// TestInstallPackagesGPUWarning: install_packages' message carries the
// installer's notes, such as the warning about a GPU build on a host
// without a GPU.
func TestInstallPackagesGPUWarning(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/dev/nvidiactl"); err == nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("this CI host has a GPU: the warning is for hosts without one")
		}
		t.Skip("this host has a GPU: the warning is for hosts without one")
	}
	idx := pypitest.NewIndex(t,
		pypitest.Package{Name: "torch", Version: "2.0", Modules: map[string]string{"torch/__init__.py": ""}, Requires: []string{"nvidia-fake-cu12"}},
		pypitest.Package{Name: "nvidia-fake-cu12", Version: "1.0", Modules: map[string]string{"nvidia_fake/__init__.py": ""}})
	srv := newServer(t, func(c *Config) {
		if c.Auto != nil {
			c.Auto.Installer.IndexURL = idx.URL()
		}
	})
	if srv.cfg.Auto == nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("uv is not installed on CI: scripts/setup must install it")
		}
		t.Skip("uv is not installed: run scripts/setup")
	}
	res := call(t, connect(t, srv), ToolInstallPackages, map[string]any{"packages": []string{"torch"}})
	if text := textOf(res); res.IsError || !strings.Contains(text, "Installed: ") || !strings.Contains(text, "\n[interp: torch 2.0 from the package index is the CUDA build") {
		t.Errorf("install_packages: %s", text)
	}
}
