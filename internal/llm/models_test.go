package llm_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/llm"
)

// TestServerModel asks a real HTTP server's /models which model to use
// when none is configured: its only one, or an error that lists them.
func TestServerModel(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status int
		models []string
		want   string // the model, or a part of the error
		fails  bool
	}{
		{"one", 200, []string{"Qwen/Qwen2.5-Coder-7B-Instruct"}, "Qwen/Qwen2.5-Coder-7B-Instruct", false},
		{"several", 200, []string{"b-model", "a-model"}, "serves 2: pass --model with one of a-model, b-model", true},
		{"none", 200, nil, "lists none: pass --model", true},
		{"refused", 401, nil, "401", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/models" || r.Method != http.MethodGet {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				if tc.status != 200 {
					w.WriteHeader(tc.status)
					fmt.Fprint(w, `{"error": {"message": "no", "type": "invalid_request_error"}}`)
					return
				}
				var data []string
				for _, m := range tc.models {
					data = append(data, fmt.Sprintf(`{"id": %q, "object": "model", "created": 0, "owned_by": "me"}`, m))
				}
				fmt.Fprintf(w, `{"object": "list", "data": [%s]}`, strings.Join(data, ","))
			}))
			defer srv.Close()
			p, err := llm.NewOpenAI(llm.OpenAIConfig{BaseURL: srv.URL + "/v1", MaxRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.ServerModel(context.Background())
			switch {
			case tc.fails && (err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n")):
				t.Errorf("error %v, want one line with %q", err, tc.want)
			case !tc.fails && (err != nil || got != tc.want):
				t.Errorf("model %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
