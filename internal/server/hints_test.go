package server_test

import (
	"strings"
	"testing"
)

// TestMissingFileHintAndCellNames: code that fails to open a file the
// workspace lacks is told, in the API's words, how to upload it; the
// traceback names the cell as IPython does. After the upload the same
// code finds the file.
func TestMissingFileHintAndCellNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a := e.alice.key
	id := e.newSession(a, nil)

	e.execute(a, id, "x = 1")
	res := e.execute(a, id, "open('data/in.csv').read()")
	var stderr, traceback strings.Builder
	for _, ev := range res["events"].([]any) {
		m := ev.(map[string]any)
		switch m["type"] {
		case "stderr":
			stderr.WriteString(m["text"].(string))
		case "error":
			for _, l := range m["traceback"].([]any) {
				traceback.WriteString(l.(string) + "\n")
			}
		}
	}
	want := "[interp: data/in.csv is not in the sandbox; upload it with POST /v1/sessions/" + id + "/files (path data/in.csv), then run the code again]\n"
	if stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	if !strings.Contains(traceback.String(), "Cell In[2], line 1") || strings.Contains(traceback.String(), "<cell") {
		t.Errorf("the traceback does not name the cell as IPython does:\n%s", traceback.String())
	}

	e.do(a, "POST", "/v1/sessions/"+id+"/files?path=data/in.csv", []byte("a,b\n"), "Content-Type", "application/octet-stream").want(t, 201)
	if out := stdoutOf(e.execute(a, id, "print(open('data/in.csv').read().strip())")); out != "a,b\n" {
		t.Errorf("after the upload: %q", out)
	}
	// A path outside the workspace cannot be uploaded to: no hint.
	res = e.execute(a, id, "open('/nowhere/x.csv')")
	for _, ev := range res["events"].([]any) {
		if m := ev.(map[string]any); m["type"] == "stderr" && strings.Contains(m["text"].(string), "upload it") {
			t.Errorf("a hint for an absolute path: %q", m["text"])
		}
	}
}
