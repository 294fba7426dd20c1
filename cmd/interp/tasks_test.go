package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/agent"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/llm/llmtest"
	"github.com/interp-dev/interp/internal/store"
)

const taskPrompt = "what is 6 * 7?"

// TestFrontEndsRecordTasksWhole runs one task through interp run, chat's
// recorder and the HTTP service, each with a scripted model and a history
// of its own, and checks that each recorded the task whole, and alike:
// answered, with its answer, steps, tokens and end, its cell, and the
// conversation to resume from. All three record through
// store.Recorder.RunTask.
func TestFrontEndsRecordTasksWhole(t *testing.T) {
	needSandbox(t)
	adminEnv(t)
	t.Setenv("OPENAI_API_KEY", "test-key")
	frontEnds := []struct {
		name string
		run  func(t *testing.T, db string)
	}{
		{"run", func(t *testing.T, _ string) {
			if code, out, errOut := interp(t, "", "run", "--yes", "--no-out", "--no-install", taskPrompt); code != exitOK {
				t.Fatalf("run: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}
		}},
		{"chat", recordChatTask},
		{"http", recordHTTPTask},
	}
	got := map[string]string{}
	for _, fe := range frontEnds {
		srv := llmtest.NewOpenAIServer(t,
			llmtest.Turn{ToolCalls: []llmtest.Call{{Name: "run_python", Arguments: `{"code": "print(6 * 7)"}`}}},
			llmtest.Turn{Text: "The answer is 42."})
		t.Setenv("OPENAI_BASE_URL", srv.URL)
		db := filepath.Join(t.TempDir(), "history.db")
		t.Setenv("INTERP_HISTORY", db)
		fe.run(t, db)
		got[fe.name] = recordedTask(t, fe.name, db)
	}
	for name, sig := range got {
		if sig != got["run"] {
			t.Errorf("%s recorded the task otherwise than run:\n%s: %s\nrun:  %s", name, name, sig, got["run"])
		}
	}
}

// recordChatTask runs the task as interp chat does, through its recorder
// (the chat itself needs a terminal).
func recordChatTask(t *testing.T, _ string) {
	ctx := context.Background()
	g := &globalFlags{}
	wb, err := newWorkbench(ctx, g, &agentFlags{deps: depsFlags{noInstall: true}}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer wb.close()
	st, err := g.openStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec := &recordingAgent{wb: wb, st: st, stderr: io.Discard, files: &workspaceFiles{}}
	if _, err := rec.Run(ctx, taskPrompt, func(agent.Event) {}); err != nil {
		t.Fatal(err)
	}
}

// recordHTTPTask runs the task with POST /v1/tasks, reading its stream to
// the end.
func recordHTTPTask(t *testing.T, db string) {
	mustInterp(t, "admin", "--db", db, "user", "create", "alice")
	key, _ := mustInterp(t, "admin", "--db", db, "key", "create", "alice")
	base, logs, cancel, served := startServe(t, "--db", db, "--listen", "127.0.0.1:0", "--pool=-1", "--no-install")
	defer func() {
		cancel()
		<-served
	}()
	b, _ := json.Marshal(map[string]string{"prompt": taskPrompt})
	req, _ := http.NewRequest("POST", base+"/v1/tasks", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(key))
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("POST /v1/tasks: %v\n%s", err, logs)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "event: result") {
		t.Fatalf("POST /v1/tasks: %d %s", res.StatusCode, body)
	}
}

// onlyConversation returns the one conversation the history db holds,
// whole; name says whose history it is.
func onlyConversation(t *testing.T, name, db string) *store.Conversation {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, db, &store.Options{NoRecover: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	convs, err := st.ListConversations(ctx, 10, 0)
	if err != nil || len(convs) != 1 {
		t.Fatalf("%s: conversations %v, %v; want one", name, convs, err)
	}
	c, err := st.GetConversation(ctx, convs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// recordedTask checks the one task recorded in db and says what was
// recorded, for comparing front ends.
func recordedTask(t *testing.T, name, db string) string {
	t.Helper()
	c := onlyConversation(t, name, db)
	if len(c.Tasks) != 1 {
		t.Fatalf("%s: %d tasks recorded, want 1", name, len(c.Tasks))
	}
	task := c.Tasks[0]
	switch {
	case task.Prompt != taskPrompt:
		t.Errorf("%s: prompt %q", name, task.Prompt)
	case task.Status != store.TaskAnswered || task.Stop != event.StopAnswer:
		t.Errorf("%s: task %s, stop %q (%s); want answered", name, task.Status, task.Stop, task.Reason)
	case task.Answer != "The answer is 42.":
		t.Errorf("%s: answer %q", name, task.Answer)
	case task.Steps < 1 || task.TokensIn <= 0 || task.TokensOut <= 0:
		t.Errorf("%s: %d steps, %d+%d tokens recorded", name, task.Steps, task.TokensIn, task.TokensOut)
	case task.FinishedAt.IsZero():
		t.Errorf("%s: the task has no end", name)
	}
	var cells []string
	for _, cl := range c.Cells {
		cells = append(cells, cl.Status)
	}
	var roles []string
	for _, m := range c.History {
		roles = append(roles, m.Role)
	}
	if len(c.History) == 0 || c.History[len(c.History)-1].Role != llm.RoleAssistant || !strings.Contains(c.History[len(c.History)-1].Content, "42") {
		t.Errorf("%s: the conversation to resume from ends %v", name, roles)
	}
	var kinds []string
	for _, e := range c.Events {
		if e.Type == event.Answer || e.Type == event.Tool || e.Type == event.Done {
			kinds = append(kinds, e.Type)
		}
	}
	return fmt.Sprintf("%s, stop %s, %q, %d steps, cells %v, events %v, history %v", task.Status, task.Stop, task.Answer, task.Steps, cells, kinds, roles)
}
