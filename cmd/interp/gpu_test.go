package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/interp-dev/interp/internal/deps/pypitest"
	"github.com/interp-dev/interp/internal/mcpserver"
)

// TestGPUWarningEveryFrontEnd: code importing torch, on a host without a
// GPU and with no torch index set, gets one warning with the download
// size and the setting to change, in the file to change it in: the same
// line on the CLI's stderr, in the API's event stream and in MCP's
// result. A local index stands in for PyPI: its torch needs a fake NVIDIA
// package, as PyPI's CUDA build does.
func TestGPUWarningEveryFrontEnd(t *testing.T) {
	root := installEnv(t)
	if _, err := os.Stat("/dev/nvidiactl"); err == nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("this CI host has a GPU: the warning is for hosts without one")
		}
		t.Skip("this host has a GPU: the warning is for hosts without one")
	}
	idx := pypitest.NewIndex(t,
		pypitest.Package{Name: "torch", Version: "2.0", Modules: map[string]string{"torch/__init__.py": "BUILD = 'cuda'\n"}, Requires: []string{"nvidia-fake-cu12"}},
		pypitest.Package{Name: "nvidia-fake-cu12", Version: "1.0", Modules: map[string]string{"nvidia_fake/__init__.py": ""}})
	t.Setenv("INTERP_INDEX_URL", idx.URL())
	cfg := os.Getenv("INTERP_CONFIG")
	const code = "import torch\nprint(torch.BUILD)\n"
	want := "[interp: torch 2.0 from the package index is the CUDA build, with 1 GPU-only package ("
	wantEnd := " to download with them), and this host has no GPU. For PyTorch's CPU-only build, add install: {torch_index: cpu} to " + cfg + " or set INTERP_TORCH_INDEX=cpu]"

	frontEnds := []struct {
		name string
		run  func(t *testing.T) string // what the front end showed
	}{
		{"cli", func(t *testing.T) string {
			c, out, errOut := interp(t, code, "exec", "-")
			if c != exitOK || out != "cuda\n" {
				t.Fatalf("exec: exit %d\n%s\n%s", c, out, errOut)
			}
			return errOut
		}},
		{"sse", func(t *testing.T) string {
			var stdout, stderr strings.Builder
			for _, ev := range serveStream(t, code) {
				switch ev.Type {
				case "stdout":
					stdout.WriteString(ev.Text)
				case "stderr":
					stderr.WriteString(ev.Text)
				}
			}
			if stdout.String() != "cuda\n" {
				t.Errorf("the stream's stdout: %q", stdout.String())
			}
			return stderr.String()
		}},
		{"mcp", func(t *testing.T) string {
			out := mcpRunPython(t, code)
			if out.Stdout != "cuda\n" {
				t.Errorf("run_python: %+v", out)
			}
			return out.Stderr
		}},
	}
	for _, fe := range frontEnds {
		t.Run(fe.name, func(t *testing.T) {
			// Each its own store: once torch is stored, nothing is
			// downloaded, and nothing is said.
			installDirs(t, root, fe.name)
			shown := fe.run(t)
			t.Logf("%s showed:\n%s", fe.name, shown)
			if strings.Count(shown, want) != 1 || !strings.Contains(shown, wantEnd) {
				t.Errorf("%s showed:\n%s\nwant once: %s...%s", fe.name, shown, want, wantEnd)
			}
		})
	}
}

// streamed is an event of the API's stream, as far as these tests look.
type streamed struct {
	Type, Text, Phase, Package, Message string
}

// serveStream runs code in a new session of a new interp serve (history
// in $INTERP_HISTORY) through the event stream, and returns its events;
// ready, if given, is called once it listens.
func serveStream(t *testing.T, code string, ready ...func()) []streamed {
	post, stop := serveAs(t, os.Getenv("INTERP_HISTORY"))
	defer stop()
	for _, f := range ready {
		f()
	}
	var sess struct{ ID string }
	if err := json.Unmarshal(post("/v1/sessions", map[string]any{}), &sess); err != nil {
		t.Fatal(err)
	}
	stream := post("/v1/sessions/"+sess.ID+"/execute/stream", map[string]any{"code": code})
	var evs []streamed
	for _, line := range strings.Split(string(stream), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var ev streamed
		if json.Unmarshal([]byte(data), &ev) == nil {
			evs = append(evs, ev)
		}
	}
	return evs
}

// mcpRunPython runs code through a new interp mcp's run_python and
// returns the result; ready, if given, is called once it listens.
func mcpRunPython(t *testing.T, code string, ready ...func()) mcpserver.RunPythonOutput {
	url, stop := startMCP(t)
	defer stop()
	for _, f := range ready {
		f()
	}
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Minute)
	defer ccancel()
	res, err := cs.CallTool(cctx, &mcp.CallToolParams{Name: "run_python", Arguments: map[string]any{"code": code}})
	if err != nil {
		t.Fatal(err)
	}
	var out mcpserver.RunPythonOutput
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("run_python: %s, %v", b, err)
	}
	return out
}
