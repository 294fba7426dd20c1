package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/server"
)

// docRoutes serve the document itself, and are not in it.
var docRoutes = map[string]bool{
	"GET /openapi.json": true, "GET /openapi.yaml": true,
	"GET /openapi-3.0.json": true, "GET /openapi-3.0.yaml": true,
	"GET /docs": true, "GET /docs/docs.js": true, "GET /docs/docs.css": true,
}

// TestOpenAPI checks the document: OpenAPI 3.1, the same operations as
// the router, every reference defined, every /v1 operation authenticated.
func TestOpenAPI(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("", "GET", "/openapi.json", nil).want(t, 200)
	var doc map[string]any
	r.json(t, &doc)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi %v", doc["openapi"])
	}

	// The router and the document agree, both ways.
	inDoc := map[string]bool{}
	ids := map[string]string{}
	for path, item := range doc["paths"].(map[string]any) {
		for method, o := range item.(map[string]any) {
			op, ok := o.(map[string]any)
			if !ok {
				continue
			}
			key := strings.ToUpper(method) + " " + path
			inDoc[key] = true
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] != "" {
				t.Errorf("%s: operationId %q missing or taken by %s", key, id, ids[id])
			}
			ids[id] = key
			resps := op["responses"].(map[string]any)
			if rb, _ := op["requestBody"].(map[string]any); rb != nil {
				if c, _ := rb["content"].(map[string]any); c["application/json"] != nil && resps["400"] == nil {
					t.Errorf("%s takes JSON but documents no 400", key)
				}
			}
			if key == "POST /v1/auth/login" {
				// Signing in is the one /v1 operation without credentials.
				if op["security"] != nil {
					t.Errorf("%s asks for security", key)
				}
			} else if strings.HasPrefix(path, "/v1/") {
				sec, _ := json.Marshal(op["security"])
				if string(sec) != `[{"bearer":[]}]` {
					t.Errorf("%s: security %s", key, sec)
				}
				if resps["401"] == nil {
					t.Errorf("%s documents no 401", key)
				}
			} else if op["security"] != nil {
				t.Errorf("%s is public but asks for security", key)
			}
		}
	}
	inRouter := map[string]bool{}
	for _, p := range e.srv.Routes() {
		if !docRoutes[p] {
			inRouter[p] = true
		}
	}
	for k := range inRouter {
		if !inDoc[k] {
			t.Errorf("route %s is not in the OpenAPI document", k)
		}
	}
	for k := range inDoc {
		if !inRouter[k] {
			t.Errorf("operation %s of the document has no route", k)
		}
	}
	if len(inDoc) < 20 {
		t.Errorf("only %d operations", len(inDoc))
	}

	// Every reference resolves.
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				name := strings.TrimPrefix(ref, "#/components/schemas/")
				if name == ref || schemas[name] == nil {
					t.Errorf("dangling $ref %s", ref)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)

	// The YAML is the same document.
	y := e.do("", "GET", "/openapi.yaml", nil).want(t, 200)
	var ydoc map[string]any
	if err := yaml.Unmarshal(y.body, &ydoc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if ydoc["openapi"] != "3.1.0" || len(ydoc["paths"].(map[string]any)) != len(doc["paths"].(map[string]any)) {
		t.Fatal("openapi.yaml differs from openapi.json")
	}
	if d := e.do("", "GET", "/docs", nil).want(t, 200); !strings.Contains(string(d.body), "/openapi") {
		t.Fatal("the docs page does not load the document")
	}

	// A validator of the specification agrees it is valid 3.1.
	py := testVenv(t)
	if py == "" {
		return
	}
	f := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(f, r.body, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
validate(json.load(open(sys.argv[1])), cls=OpenAPIV31SpecValidator)
print("valid")
`, f).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "valid") {
		t.Fatalf("openapi-spec-validator: %v\n%s", err, out)
	}
}

// Pinned versions of the Python test tools.
const (
	schemathesisVersion = "4.32.5"
	validatorVersion    = "0.9.0"
)

// testVenv returns the Python of a virtual environment holding
// schemathesis and openapi-spec-validator, making it the first time with
// uv. Without uv it returns "" after t.Skip, or fails under CI=true.
func testVenv(t *testing.T) string {
	t.Helper()
	uv := "/opt/interp/uv/bin/uv"
	if _, err := os.Stat(uv); err != nil {
		if p, err := exec.LookPath("uv"); err == nil {
			uv = p
		} else {
			if os.Getenv("CI") == "true" {
				t.Fatal("uv is missing: run scripts/setup")
			}
			t.Skip("uv is missing (run scripts/setup): the Python validators are skipped")
			return ""
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "interp-test", "schemathesis")
	py := filepath.Join(dir, "bin", "python")
	stamp := filepath.Join(dir, ".interp-pins")
	pins := "schemathesis==" + schemathesisVersion + " openapi-spec-validator==" + validatorVersion
	if b, err := os.ReadFile(stamp); err == nil && string(b) == pins {
		return py
	}
	run := func(args ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, uv, args...)
		cmd.Env = append(os.Environ(), "UV_NO_PROGRESS=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			if os.Getenv("CI") != "true" {
				t.Skipf("cannot install the Python validators (%v): %s", err, out)
			}
			t.Fatalf("uv %v: %v\n%s", args, err, out)
		}
	}
	if _, err := os.Stat(py); err != nil {
		pyArgs := []string{"venv", "--quiet", dir}
		if sys, err := exec.LookPath("python3"); err == nil {
			pyArgs = append(pyArgs, "--python", sys)
		}
		run(pyArgs...)
	}
	run("pip", "install", "--quiet", "--python", py, "schemathesis=="+schemathesisVersion, "openapi-spec-validator=="+validatorVersion)
	if err := os.WriteFile(stamp, []byte(pins), 0o644); err != nil {
		t.Fatal(err)
	}
	return py
}

// stubModel answers every request at once, for fuzzing tasks.
type stubModel struct{}

func (stubModel) Name() string { return "stub" }

func (stubModel) Stream(_ context.Context, _ *llm.Request, emit func(llm.Delta)) (*llm.Response, error) {
	emit(llm.Delta{Text: "Done."})
	return &llm.Response{Message: llm.Message{Role: llm.RoleAssistant, Content: "Done."}, Usage: llm.Usage{InputTokens: 3, OutputTokens: 2}}, nil
}

// TestSchemathesis fuzzes every operation of the served document with a
// valid key, against a real server on 127.0.0.1: no answer may be a 5xx.
func TestSchemathesis(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	e := newEnv(t, func(c *server.Config) {
		c.MaxCellTimeout = 3 * time.Second
		c.DefaultCellTimeout = 3 * time.Second
		c.MaxMemory = 512 << 20
		c.MaxSessions = 16
		c.Quotas = server.Quotas{Sessions: 3, ExecutionsPerMinute: 1000, TokensPerDay: 1 << 40}
		c.MaxUploadBytes = 1 << 20
	})
	py := testVenv(t)
	if py == "" {
		return
	}
	e.llm.set(stubModel{})
	// Alice is an admin, so that the fuzzer reaches /v1/admin too.
	if _, err := e.st.SetUserRole(context.Background(), e.alice.id, "admin"); err != nil {
		t.Fatal(err)
	}
	// A session with a file and a conversation, whose IDs the fuzzer is
	// given, so that requests reach real resources, not only 404s.
	id := e.newSession(e.alice.key, nil)
	e.do(e.alice.key, "POST", "/v1/sessions/"+id+"/files?path=a.txt", []byte("hello"), "Content-Type", "application/octet-stream").want(t, 201)
	e.execute(e.alice.key, id, "x = 1")
	conv, _ := e.do(e.alice.key, "GET", "/v1/sessions/"+id, nil).want(t, 200).obj(t)["conversation_id"].(string)
	config := filepath.Join(t.TempDir(), "schemathesis.toml")
	err := os.WriteFile(config, []byte(fmt.Sprintf(`
[[operations]]
include-path-regex = "^/v1/sessions/[{]id[}]/"
parameters = { "path.id" = %q }

[[operations]]
include-operation-id = "get-session"
parameters = { "path.id" = %q }

[[operations]]
include-path-regex = "^/v1/conversations/[{]id[}]"
parameters = { "path.id" = %q }
`, id, id, conv)), 0o600)
	if err != nil {
		t.Fatal(err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.srv.Serve(l)
	base := "http://" + l.Addr().String()

	st := filepath.Join(filepath.Dir(py), "schemathesis")
	report := filepath.Join(t.TempDir(), "report")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, st, "--config-file", config, "run", base+"/openapi.json",
		"--checks", "not_a_server_error",
		"--max-examples", "20",
		"--phases", "examples,coverage,fuzzing",
		"--workers", "2",
		"--seed", "1",
		"--request-timeout", "30",
		"--suppress-health-check", "all",
		"--generation-database", "none",
		"--no-color",
		"--header", "Authorization: Bearer "+e.alice.key,
		"--report", "junit", "--report-dir", report,
	)
	cmd.Env = append(os.Environ(), "SCHEMATHESIS_HOOKS=", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	// The verdict that matters is the server's own: no request answered
	// with a 5xx, and enough requests to mean something. schemathesis can
	// also fail on a bug of its own in one operation (hypothesis has had
	// "AST constructor recursion depth mismatch"): that is logged, while a
	// failed check fails the test.
	requests, serverErrors := 0, 0
	for _, l := range strings.Split(e.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil || m["msg"] != "request" {
			continue
		}
		requests++
		if status, _ := m["status"].(float64); status >= 500 {
			serverErrors++
		}
	}
	switch {
	case serverErrors > 0:
		t.Fatalf("%d of %d requests got a 5xx\n%s\nserver errors:\n%s", serverErrors, requests, tail(string(out), 150), grepLines(e.logs.String(), `"level":"ERROR"`))
	case err != nil && (strings.Contains(string(out), "FAILURES") || !strings.Contains(string(out), "Runtime Error")):
		t.Fatalf("schemathesis: %v\n%s", err, tail(string(out), 150))
	case err != nil:
		t.Logf("schemathesis had an internal error of its own; no 5xx in %d requests:\n%s", requests, tail(string(out), 40))
	}
	if requests < 200 {
		t.Fatalf("only %d requests reached the server: the fuzzing did not run", requests)
	}
	t.Logf("schemathesis, %d requests:\n%s", requests, tail(string(out), 25))
	if os.Getenv("INTERP_TEST_DEBUG") != "" {
		counts := map[string]int{}
		for _, l := range strings.Split(e.logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
				counts[fmt.Sprintf("%v %v", m["route"], m["status"])]++
			}
		}
		t.Logf("requests: %v", counts)
	}
	// The fuzzer went everywhere.
	var hit []string
	for _, p := range e.srv.Routes() {
		if strings.Contains(e.logs.String(), fmt.Sprintf(`"route":%q`, p)) {
			hit = append(hit, p)
		}
	}
	sort.Strings(hit)
	if len(hit) < 20 {
		t.Errorf("schemathesis reached only %d routes: %v", len(hit), hit)
	}
	if strings.Contains(e.logs.String(), `"status":5`) {
		t.Errorf("a 5xx was logged:\n%s", grepLines(e.logs.String(), `"status":5`))
	}
	_ = http.StatusOK
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
