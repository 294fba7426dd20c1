package mcpserver

import (
	"strings"
	"testing"
)

// TestMissingFileHint: code that fails to open a file the workspace
// lacks is told, in MCP's words, to write it with write_file; the
// traceback names the cell as IPython does.
func TestMissingFileHint(t *testing.T) {
	t.Parallel()
	cs := connect(t, newServer(t, nil))
	run(t, cs, "x = 1")
	res := call(t, cs, ToolRunPython, map[string]any{"code": "open('data/in.csv')"})
	out := structured[RunPythonOutput](t, res)
	want := "[interp: data/in.csv is not in the sandbox; write it into the workspace with the write_file tool (path data/in.csv), then run the code again]\n"
	if out.Stderr != want {
		t.Errorf("stderr %q, want %q", out.Stderr, want)
	}
	if !strings.Contains(textOf(res), want) {
		t.Errorf("the text the model reads lacks the hint:\n%s", textOf(res))
	}
	if out.Error == nil || !strings.Contains(out.Error.Traceback, "Cell In[2], line 1") || strings.Contains(out.Error.Traceback, "<cell") {
		t.Errorf("the traceback does not name the cell as IPython does: %+v", out.Error)
	}
	if res := call(t, cs, ToolWriteFile, map[string]any{"path": "data/in.csv", "content": "a,b\n"}); res.IsError {
		t.Fatal(textOf(res))
	}
	if _, out := run(t, cs, "print(open('data/in.csv').read().strip())"); out.Stdout != "a,b\n" || out.Stderr != "" {
		t.Errorf("after write_file: %+v", out)
	}
}
