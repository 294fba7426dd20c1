package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/interp-dev/interp/internal/llamacpp"
	"github.com/interp-dev/interp/internal/llm"
)

// TestGrammarOnLocalModel checks the protocol's grammars against the
// real runtime and default model that scripts/setup installs: what
// llama-server generates under each step's grammar parses as that step.
// Without the model the test is skipped, except on CI.
func TestGrammarOnLocalModel(t *testing.T) {
	home := os.Getenv("INTERP_HOME")
	if home == "" {
		home = "/opt/interp"
	}
	bin := filepath.Join(home, "bin", "llama-server")
	model := filepath.Join(home, "models", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
	for _, p := range []string{bin, model} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing: scripts/setup installs it (%v)", p, err)
			}
			t.Skipf("%s is missing: run scripts/setup (%v)", p, err)
		}
	}
	srv := llamacpp.New(llamacpp.Config{Binary: bin, Model: model, ContextSize: 4096})
	t.Cleanup(func() { srv.Close() })
	p := llamacpp.NewProvider(srv, "qwen2.5-coder-0.5b")
	if !llm.SupportsGrammar(p) {
		t.Fatal("the local provider does not say it obeys grammars")
	}
	format := taskFormat("Answer as @total[value].")
	zero := 0.0
	tests := []struct {
		name   string
		want   stepWant
		format *answerFormat
		prompt string
		kind   stepKind
	}{
		// Each asks for the opposite of what the grammar allows, or
		// nothing in particular: the grammar decides.
		{"code", wantCode, nil, "What is the capital of France?", stepCode},
		{"answer", wantAnswer, nil, "Write Python code that prints the numbers 1 to 3.", stepAnswer},
		{"either", wantEither, nil, "What is 17 * 23? Compute it.", -1},
		{"format", wantAnswer, format, "The sum is 55. Answer as @total[value].", stepAnswer},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		resp, err := p.Stream(ctx, &llm.Request{
			System:   "You solve tasks by running Python code. To run code, reply with one ```python block.",
			Messages: []llm.Message{{Role: llm.RoleUser, Content: tt.prompt}},
			// Enough for a short block: a cut one would not parse.
			MaxTokens: 400, Temperature: &zero, Grammar: stepGrammar(tt.want, tt.format),
		}, func(llm.Delta) {})
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		kind, _ := parseStep(resp.Message.Content)
		if kind == stepMalformed || (tt.kind >= 0 && kind != tt.kind) {
			t.Errorf("%s: under the grammar the model wrote %q, which parses as %v (stop %s)", tt.name, resp.Message.Content, kind, resp.StopReason)
		}
		if tt.format != nil && !tt.format.matches(resp.Message.Content) {
			t.Errorf("%s: %q does not follow the format", tt.name, resp.Message.Content)
		}
	}
}
