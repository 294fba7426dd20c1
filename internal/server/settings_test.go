package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/llm/llmtest"
	"github.com/interp-dev/interp/internal/server"
)

// A user chooses a model among those the server offers and limits within
// its range; tasks and new sessions then use them, and other users keep
// the defaults.
func TestUserSettings(t *testing.T) {
	fake := llmtest.NewOpenAIServer(t, llmtest.Turn{Text: "Hello from the chosen model."}, llmtest.Turn{Text: "Hello from the default."})
	provider := func(model string) *server.LLM {
		p, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: fake.URL, APIKey: "k", Model: model})
		if err != nil {
			t.Fatal(err)
		}
		return &server.LLM{Provider: p, Name: "openai", Model: model}
	}
	def := provider("gpt-default")
	e := newEnv(t, func(c *server.Config) { c.MaxMemory = 1 << 30 }, func(d *server.Deps) {
		d.LLM = func(context.Context) (*server.LLM, error) { return def, nil }
		d.Models = []server.ModelChoice{{Provider: "openai", Model: "gpt-default", Default: true}, {Provider: "local", Model: "qwen2.5-coder-0.5b", Local: true}, {Provider: "openai", Model: "gpt-other"}}
		d.ModelFor = func(_ context.Context, p, m string) (*server.LLM, error) { return provider(m), nil }
	})
	a, b := e.alice.key, e.bob.key
	var list server.ModelList
	e.do(a, "GET", "/v1/models", nil).want(t, 200).json(t, &list)
	if len(list.Models) != 3 || !list.Models[0].Default || !list.Models[1].Local {
		t.Fatalf("models %+v", list.Models)
	}
	var st server.Settings
	e.do(a, "GET", "/v1/me/settings", nil).want(t, 200).json(t, &st)
	if st.Settings != (server.UserSettings{}) || st.Limits.Memory.Max != 1<<30 || st.Limits.CellTimeout.Max != 60 || len(st.Models) != 3 {
		t.Fatalf("settings before any: %+v", st)
	}

	// What the server does not allow is refused, saying why.
	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"provider": "openai", "model": "gpt-5-secret"}, "does not offer"},
		{map[string]any{"provider": "openai"}, "go together"},
		{map[string]any{"memory": 2 << 30}, "maximum of 1073741824"},
		{map[string]any{"memory": 1 << 20}, "not between"},
		{map[string]any{"cell_timeout": 3600}, "maximum of 60"},
	} {
		r := e.do(a, "PUT", "/v1/me/settings", c.body).want(t, 422)
		if !strings.Contains(string(r.body), c.want) {
			t.Errorf("PUT %v: %s, want %q", c.body, r.body, c.want)
		}
	}
	// A new session asking for the same is refused in the same words (the
	// schema's bounds, in the OpenAPI document, answer first where they
	// can, naming the field).
	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"cell_timeout": 0.0001}, "cell_timeout 0.0001 s is not between 0.001 and the server's maximum of 60 s"},
		{map[string]any{"memory": 2 << 30}, "body.memory"},
		{map[string]any{"cell_timeout": 3600}, "body.cell_timeout"},
	} {
		put := e.do(a, "PUT", "/v1/me/settings", c.body).want(t, 422).obj(t)
		post := e.do(a, "POST", "/v1/sessions", c.body).want(t, 422)
		if !strings.Contains(string(post.body), c.want) {
			t.Errorf("POST /v1/sessions %v: %s, want %q", c.body, post.body, c.want)
		}
		if p := post.obj(t); p["errors"] == nil && p["detail"] != put["detail"] {
			t.Errorf("%v: settings say %q, sessions %q", c.body, put["detail"], p["detail"])
		}
	}
	e.do(a, "PUT", "/v1/me/settings", map[string]any{"provider": "openai", "model": "gpt-other", "memory": 256 << 20, "cell_timeout": 5, "confirm": true}).want(t, 200)
	e.do(a, "GET", "/v1/me/settings", nil).want(t, 200).json(t, &st)
	if want := (server.UserSettings{Provider: "openai", Model: "gpt-other", Memory: 256 << 20, CellTimeout: 5, Confirm: true}); st.Settings != want {
		t.Fatalf("saved %+v, want %+v", st.Settings, want)
	}
	// Confirm is alice's alone, and it is kept as it was saved: bob's says
	// nothing of it.
	var bobs server.Settings
	e.do(b, "GET", "/v1/me/settings", nil).want(t, 200).json(t, &bobs)
	if bobs.Settings.Confirm {
		t.Errorf("bob's settings %+v: alice's confirm leaked", bobs.Settings)
	}

	// A new session takes alice's limits; bob's the server's.
	sid := e.do(a, "POST", "/v1/sessions", map[string]any{}).want(t, 201).obj(t)
	if sid["memory"] != float64(256<<20) || sid["cell_timeout"] != float64(5) {
		t.Errorf("alice's new session %v", sid)
	}
	e.do(a, "DELETE", "/v1/sessions/"+sid["id"].(string), nil).want(t, 204)
	bs := e.do(b, "POST", "/v1/sessions", map[string]any{}).want(t, 201).obj(t)
	if bs["memory"] != float64(512<<20) || bs["cell_timeout"] != float64(20) {
		t.Errorf("bob's new session %v", bs)
	}
	e.do(b, "DELETE", "/v1/sessions/"+bs["id"].(string), nil).want(t, 204)

	// Alice's task goes to her model, bob's to the default.
	_, evs := e.stream(a, "/v1/tasks", map[string]any{"prompt": "hi"}, nil)
	r := evs[len(evs)-1].data
	if r["answer"] != "Hello from the chosen model." {
		t.Fatalf("alice's task %v", r)
	}
	c := e.do(a, "GET", "/v1/conversations/"+r["conversation_id"].(string), nil).want(t, 200).obj(t)
	if c["model"] != "gpt-other" {
		t.Errorf("alice's conversation's model %v", c["model"])
	}
	if s := e.do(a, "GET", "/v1/sessions/"+r["session_id"].(string), nil).want(t, 200).obj(t); s["memory"] != float64(256<<20) {
		t.Errorf("the task's session %v", s)
	}
	_, evs = e.stream(b, "/v1/tasks", map[string]any{"prompt": "hi"}, nil)
	r = evs[len(evs)-1].data
	c = e.do(b, "GET", "/v1/conversations/"+r["conversation_id"].(string), nil).want(t, 200).obj(t)
	if c["model"] != "gpt-default" {
		t.Errorf("bob's conversation's model %v", c["model"])
	}
	reqs := fake.Requests()
	if len(reqs) != 2 || !strings.Contains(mustJSON(reqs[0]), `"gpt-other"`) || !strings.Contains(mustJSON(reqs[1]), `"gpt-default"`) {
		t.Errorf("the models asked: %s", mustJSON(reqs))
	}
}
