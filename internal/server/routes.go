package server

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const apiDescription = `Interp runs Python in secure sandboxed sessions that keep their state
between executions, installs the packages code imports, and lets a language
model work on tasks in plain language.

Every /v1 request needs an API key: ` + "`Authorization: Bearer ik_...`" + ` (make one with
` + "`interp admin key create USER`" + `). A user sees only their own sessions, files and
conversations; any other ID is answered 404.

Errors are RFC 9457 problem documents. Past a quota the answer is 429 with a
Retry-After header. The workspace quota (the files of all your sessions
together) refuses an upload with 413 when the file alone is larger than the
whole quota, else with 429 until files are deleted; an execution that leaves
you over it ends with an error event (ename WorkspaceQuotaExceeded) before
done, and no code runs until files are deleted.

Users with the admin role also reach /v1/admin (users, API keys, the audit
log); for others it answers 403.

Streams are Server-Sent Events: ` + "`id: N`" + `, ` + "`event: TYPE`" + ` and ` + "`data: JSON`" + `, with the same
JSON as ` + "`interp exec --json`" + ` (and ` + "`interp run --json`" + ` for tasks), one schema per type
(ExecutionEvent, TaskEvent). A stream's work goes on if its client goes away: the
X-Stream-ID header names it, and GET /v1/streams/{id} with Last-Event-ID resumes it.`

func (s *Server) humaConfig() huma.Config {
	cfg := huma.DefaultConfig("Interp API", s.cfg.Version)
	// No $schema links in bodies: the JSON stays the CLI's.
	cfg.CreateHooks = nil
	cfg.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", schemaNamer)
	cfg.SchemasPath = ""
	cfg.DocsPath = "" // registerDocs serves an embedded viewer: huma's loads one from a CDN
	cfg.OpenAPIPath = "/openapi"
	cfg.Info.Description = apiDescription
	// JSON must be UTF-8 (RFC 8259). encoding/json would replace invalid
	// bytes, and lone surrogates, with U+FFFD, so that the code that runs
	// would differ from the code sent: refuse them with 400 instead.
	for _, name := range []string{"application/json", "json"} {
		if f, ok := cfg.Formats[name]; ok {
			unmarshal := f.Unmarshal
			f.Unmarshal = func(data []byte, v any) error {
				if err := checkJSONText(data); err != nil {
					return err
				}
				return unmarshal(data, v)
			}
			cfg.Formats[name] = f
		}
	}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {
			Type: "http", Scheme: "bearer",
			Description: "An API key made with `interp admin key create USER`.",
		},
	}
	return cfg
}

// documentBadJSON lists 400 among the answers of every operation that
// takes a JSON body: a body that is not JSON, or not UTF-8, is answered 400
// before any handler runs. The error is the one huma documents for 422.
func documentBadJSON(doc *huma.OpenAPI) {
	for _, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
			if op == nil || op.RequestBody == nil || op.RequestBody.Content["application/json"] == nil {
				continue
			}
			if _, ok := op.Responses["400"]; ok {
				continue
			}
			if r := op.Responses["422"]; r != nil {
				op.Responses["400"] = &huma.Response{Description: "Bad Request: the body is not JSON, or not valid UTF-8", Content: r.Content}
			}
		}
	}
}

// checkJSONText refuses JSON text that is not valid UTF-8 or escapes a
// lone UTF-16 surrogate: text no decoder can keep as it was sent.
func checkJSONText(data []byte) error {
	if !utf8.Valid(data) {
		i := 0
		for i < len(data) {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return fmt.Errorf("the request body is not valid UTF-8 (byte %d is 0x%02x): JSON must be UTF-8; send text as UTF-8 and binary data as base64", i, data[i])
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' || i+1 >= len(data) {
			continue
		}
		i++ // the escaped character
		if data[i] != 'u' {
			continue
		}
		r, ok := hex4(data[i+1:])
		switch {
		case !ok || !utf16.IsSurrogate(r):
		case r < 0xdc00 && len(data) > i+10 && data[i+5] == '\\' && data[i+6] == 'u':
			if low, ok := hex4(data[i+7:]); ok && low >= 0xdc00 && low <= 0xdfff {
				i += 10
				continue
			}
			fallthrough
		default:
			return fmt.Errorf("the request body escapes a lone UTF-16 surrogate (\\u%04x at byte %d), which is no character: send text as UTF-8 and binary data as base64", r, i-1)
		}
	}
	return nil
}

// hex4 decodes the 4 hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[:4]), 16, 16)
	return rune(v), err == nil
}

// schemaNamer names schemas as huma does, but tells the Event types
// apart and keeps their names: event.Event is the CLI's event, "Event";
// event.Task, a task's, is "AgentEvent"; store.Event is "RecordedEvent".
func schemaNamer(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	switch p := deref(t).PkgPath(); {
	case name == "Task" && p == "github.com/interp-dev/interp/internal/event":
		return "AgentEvent"
	case name == "Event" && p == "github.com/interp-dev/interp/internal/store":
		return "RecordedEvent"
	}
	return name
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// Errors most operations can answer.
var (
	authErrors = []int{http.StatusUnauthorized}
	idErrors   = []int{http.StatusUnauthorized, http.StatusNotFound}
)

// codeBodyBytes bounds the JSON body of an execution: code at the limit,
// every byte of it escaped as \u00XX (6 bytes), and room for the rest.
func (s *Server) codeBodyBytes() int64 { return 6*s.cfg.MaxBodyBytes + 64<<10 }

// op describes an authenticated /v1 operation.
func (s *Server) op(id, method, path, summary, tag string, errs []int, more ...int) huma.Operation {
	return huma.Operation{
		OperationID:     id,
		Method:          method,
		Path:            path,
		Summary:         summary,
		Tags:            []string{tag},
		Security:        []map[string][]string{{"bearer": {}}},
		Errors:          append(append([]int{}, errs...), more...),
		MaxBodyBytes:    s.cfg.MaxBodyBytes,
		BodyReadTimeout: s.cfg.ReadTimeout,
	}
}

func (s *Server) register() {
	api := s.api

	// The server's maxima, in the document.
	reg := api.OpenAPI().Components.Schemas
	s.schemaOf(CreateSessionBody{})
	if sc := reg.Map()["CreateSessionBody"]; sc != nil {
		maxMem, maxTimeout := float64(s.cfg.MaxMemory), s.cfg.MaxCellTimeout.Seconds()
		sc.Properties["memory"].Maximum = &maxMem
		sc.Properties["cell_timeout"].Maximum = &maxTimeout
		sc.PrecomputeMessages()
	}
	s.schemaOf(ExecuteBody{})
	s.schemaOf(ExecuteResult{})
	if sc := reg.Map()["ExecuteBody"]; sc != nil {
		maxTimeout := s.cfg.MaxCellTimeout.Seconds()
		sc.Properties["timeout"].Maximum = &maxTimeout
		sc.Properties["code"].Description += fmt.Sprintf(" At most %d bytes once decoded: the limit counts the code, not its JSON escapes (413 past it).", s.cfg.MaxBodyBytes)
		sc.PrecomputeMessages()
	}

	// The events of the streams.
	execEvents := s.eventUnion("ExecutionEvent", "One event of an execution: what a cell did, as it happened. The type tells which.", executionEventTypes)
	taskEvents := s.eventUnion("TaskEvent", "One event of a task: the model's messages and code, the events of the code it ran, and the result last. The type tells which.", taskEventTypes)
	if sc := reg.Map()["ExecuteResult"]; sc != nil {
		sc.Properties["events"].Items = execEvents
	}
	const resumeHelp = "if the connection drops, GET /v1/streams/{id} with a Last-Event-ID header resumes the stream."

	// Sessions.
	create := s.op("create-session", http.MethodPost, "/v1/sessions", "Start a session", "sessions", authErrors,
		http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusRequestEntityTooLarge)
	create.DefaultStatus = http.StatusCreated
	create.Description = "Starts a Python session in a sandbox of its own. Limits may be asked for within the server's maxima. Counts against the sessions quota."
	huma.Register(api, create, s.createSession)
	huma.Register(api, s.op("list-sessions", http.MethodGet, "/v1/sessions", "List your sessions", "sessions", authErrors), s.listSessions)
	huma.Register(api, s.op("get-session", http.MethodGet, "/v1/sessions/{id}", "Describe a session", "sessions", idErrors), s.getSession)
	del := s.op("delete-session", http.MethodDelete, "/v1/sessions/{id}", "Close a session", "sessions", idErrors)
	del.Description = "Closes the session and its sandbox; its files go with it. Running code is killed."
	huma.Register(api, del, s.deleteSession)
	restart := s.op("restart-session", http.MethodPost, "/v1/sessions/{id}/restart", "Restart a session's Python", "sessions", idErrors, http.StatusServiceUnavailable)
	restart.Description = "Gives the session a fresh Python process: variables are lost, files kept. Works after the process died, too. Running code is interrupted first."
	huma.Register(api, restart, s.restartSession)
	intr := s.op("interrupt-session", http.MethodPost, "/v1/sessions/{id}/interrupt", "Interrupt running code", "sessions", idErrors)
	intr.Description = "Stops what runs in the session: package installs, a cell (KeyboardInterrupt, as Ctrl-C), or a task. The session survives."
	huma.Register(api, intr, s.interruptSession)

	// Executions.
	execErrs := []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict, http.StatusTooManyRequests,
		http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable}
	exec := s.op("execute", http.MethodPost, "/v1/sessions/{id}/execute", "Run code, and get all its events", "executions", execErrs)
	exec.MaxBodyBytes = s.codeBodyBytes()
	exec.Description = "Runs code as the session's next cell, after installing what it imports, and answers once it finished with every event, done last. Counts against the executions quota."
	huma.Register(api, exec, s.execute)
	stream := s.op("execute-stream", http.MethodPost, "/v1/sessions/{id}/execute/stream", "Run code, streaming its events", "executions", execErrs)
	stream.MaxBodyBytes = s.codeBodyBytes()
	stream.Description = "As execute, but the events stream as Server-Sent Events as they happen (`event: stdout`, ...), ending with the done event. Counts against the executions quota."
	stream.Responses = map[string]*huma.Response{
		"200": sseResponse("The cell's events, done last.", execEvents, resumeHelp),
	}
	huma.Register(api, stream, s.executeStream)

	// Files.
	huma.Register(api, s.op("list-files", http.MethodGet, "/v1/sessions/{id}/files", "List a session's files", "files", idErrors), s.listFiles)
	up := s.op("upload-file", http.MethodPost, "/v1/sessions/{id}/files", "Upload a file", "files", idErrors,
		http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusRequestTimeout, http.StatusForbidden)
	up.DefaultStatus = http.StatusCreated
	up.Description = "Writes a file into the session's workspace, whole or not at all: the raw request body with ?path=, or a multipart/form-data body with a part named file and the path in a path field (before or after the file, in any order), the path parameter, or the file's name. Larger than the upload limit: 413, and nothing is left behind."
	huma.Register(api, up, s.uploadFile)
	// The body is streamed by the handler, so huma must not read it: it is
	// documented only after registration.
	api.OpenAPI().Paths["/v1/sessions/{id}/files"].Post.RequestBody = &huma.RequestBody{
		Required:    true,
		Description: "The file: raw bytes, or multipart/form-data.",
		Content: map[string]*huma.MediaType{
			"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}},
			"multipart/form-data": {Schema: &huma.Schema{
				Type: "object",
				Properties: map[string]*huma.Schema{
					"path": {Type: "string", Description: "Where to put the file, relative to the workspace."},
					"file": {Type: "string", Format: "binary", Description: "The file's content."},
				},
				Required: []string{"file"},
			}},
		},
	}
	down := s.op("download-file", http.MethodGet, "/v1/sessions/{id}/file", "Download a file", "files", idErrors,
		http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusForbidden)
	down.Responses = map[string]*huma.Response{"200": {
		Description: "The file's content, streamed, with the type its name suggests.",
		Content:     map[string]*huma.MediaType{"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}}},
		Headers: map[string]*huma.Param{
			"Content-Disposition":     {Description: "attachment, with the file's name.", Schema: &huma.Schema{Type: "string"}},
			"Content-Security-Policy": {Description: "sandbox: a browser must not run the file as a page of this origin.", Schema: &huma.Schema{Type: "string"}},
			"Content-Length":          {Description: "The file's size when it was opened; no more is sent.", Schema: &huma.Schema{Type: "integer"}},
		},
	}}
	huma.Register(api, down, s.downloadFile)
	huma.Register(api, s.op("delete-file", http.MethodDelete, "/v1/sessions/{id}/file", "Delete a file or an empty directory", "files", idErrors,
		http.StatusBadRequest, http.StatusConflict, http.StatusForbidden), s.deleteFile)

	// Tasks.
	task := s.op("run-task", http.MethodPost, "/v1/tasks", "Work on a task in plain language, streaming", "tasks", idErrors,
		http.StatusConflict, http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusRequestEntityTooLarge)
	task.Description = "One turn of a conversation: the model writes Python, Interp runs it in the session, and so on until the model answers. Events stream as Server-Sent Events with `interp run --json`'s JSON; a final `result` event says how the task ended. The conversation (created if none is given) is recorded in the history. Model tokens count against the daily quota."
	task.Responses = map[string]*huma.Response{
		"200": sseResponse("The task's events, then a result event.", taskEvents, resumeHelp),
	}
	huma.Register(api, task, s.task)
	resume := s.op("resume-stream", http.MethodGet, "/v1/streams/{id}", "Resume a stream of events", "executions", idErrors, http.StatusBadRequest)
	resume.Description = "Sends again the events of a streamed execution or task after the one whose id is Last-Event-ID (all of them without it), then follows the stream live until it ends. " +
		"A stream's work goes on when its client goes away; its events are kept while it runs and for " + streamRetention.String() + " after. " +
		"The events are ExecutionEvent or TaskEvent, as the stream's, with the same ids."
	resume.Responses = map[string]*huma.Response{
		"200": sseResponse("The stream's events after Last-Event-ID.", taskEvents, resumeHelp),
	}
	huma.Register(api, resume, s.resumeStream)
	s.registerConfirm()
	s.registerSettings()

	// History.
	huma.Register(api, s.op("list-conversations", http.MethodGet, "/v1/conversations", "List your conversations", "history", authErrors), s.listConversations)
	huma.Register(api, s.op("get-conversation", http.MethodGet, "/v1/conversations/{id}", "Get a conversation with everything recorded", "history", idErrors), s.getConversation)
	exp := s.op("export-conversation", http.MethodGet, "/v1/conversations/{id}/export", "Export a conversation", "history", idErrors)
	exp.Responses = map[string]*huma.Response{"200": {Description: "The export.", Content: map[string]*huma.MediaType{}}}
	for _, ct := range []string{"application/x-ipynb+json", "text/x-python", "text/markdown", "application/json"} {
		exp.Responses["200"].Content[ct] = &huma.MediaType{Schema: &huma.Schema{Type: "string"}}
	}
	huma.Register(api, exp, s.exportConversation)
	huma.Register(api, s.op("list-conversation-files", http.MethodGet, "/v1/conversations/{id}/files", "List the files a conversation's code made", "history", idErrors), s.listConversationFiles)
	getFile := s.op("get-conversation-file", http.MethodGet, "/v1/conversations/{id}/file", "Download the last kept version of a file of a conversation", "history", idErrors)
	getFile.Responses = map[string]*huma.Response{"200": {
		Description: "The file's content, with the type its name suggests.",
		Content:     map[string]*huma.MediaType{"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}}},
	}}
	huma.Register(api, getFile, s.getConversationFile)
	follow := s.op("follow-conversation", http.MethodGet, "/v1/conversations/{id}/stream", "Follow the task running in a conversation", "history", idErrors)
	follow.Description = "Streams the events of the task now running in the conversation from its first, as GET /v1/streams/{id} does, then live until its result event: for a client that knows only the conversation, such as a reloaded page. 204 when no task runs: the history has everything."
	follow.Responses = map[string]*huma.Response{
		"200": task.Responses["200"],
		"204": {Description: "No task runs in the conversation."},
	}
	for _, code := range []string{"200", "204"} {
		r := *follow.Responses[code]
		r.Headers = map[string]*huma.Param{"X-Session-ID": {Description: "The conversation's session, while it is open.", Schema: &huma.Schema{Type: "string"}}}
		follow.Responses[code] = &r
	}
	huma.Register(api, follow, s.followConversation)
	huma.Register(api, s.op("rename-conversation", http.MethodPatch, "/v1/conversations/{id}", "Rename a conversation", "history", idErrors), s.renameConversation)
	huma.Register(api, s.op("delete-conversation", http.MethodDelete, "/v1/conversations/{id}", "Delete a conversation", "history", idErrors,
		http.StatusConflict), s.deleteConversation)

	huma.Register(api, s.op("me", http.MethodGet, "/v1/me", "Describe yourself: user, quotas and usage", "users", authErrors), s.me)

	// Administration: admins only.
	s.registerAdmin()
	documentBadJSON(api.OpenAPI())

	// Browsers: sign-in with a session cookie, and the web UI.
	s.registerAuth()
	s.mux.HandleFunc("GET /", s.serveUI)
	s.registerDocs()

	// Operations: public.
	huma.Register(api, huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz", Summary: "Liveness", Tags: []string{"operations"},
		Errors: []int{},
	}, func(context.Context, *struct{}) (*healthOutput, error) {
		return &healthOutput{Status: http.StatusOK, Body: Health{Status: "ok"}}, nil
	})
	ready := huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz", Summary: "Readiness: the store answers and sandboxes start", Tags: []string{"operations"},
	}
	ready.Responses = map[string]*huma.Response{
		"503": {Description: "Not ready", Content: map[string]*huma.MediaType{"application/json": {Schema: s.schemaOf(Health{})}}},
	}
	huma.Register(api, ready, s.readyz)
	metrics := huma.Operation{
		OperationID: "metrics", Method: http.MethodGet, Path: "/metrics", Summary: "Prometheus metrics", Tags: []string{"operations"},
	}
	metrics.Responses = map[string]*huma.Response{"200": {
		Description: "Metrics in Prometheus' text format.",
		Content:     map[string]*huma.MediaType{"text/plain": {Schema: &huma.Schema{Type: "string"}}},
	}}
	if s.cfg.MetricsToken != "" {
		metrics.Responses["401"] = &huma.Response{Description: "The metrics token is missing or wrong.",
			Content: map[string]*huma.MediaType{"application/problem+json": {Schema: &huma.Schema{Type: "object"}}}}
	}
	promH := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
	token := []byte(s.cfg.MetricsToken)
	huma.Register(api, metrics, func(context.Context, *struct{}) (*huma.StreamResponse, error) {
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			r, w := humago.Unwrap(hctx)
			if len(token) > 0 {
				got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
				if !ok || subtle.ConstantTimeCompare([]byte(got), token) != 1 {
					w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
					writeProblem(w, http.StatusUnauthorized, "GET /metrics needs the metrics token: Authorization: Bearer TOKEN")
					return
				}
			}
			promH.ServeHTTP(w, r)
		}}, nil
	})
}

// Health is the answer of the health probes.
type Health struct {
	Status string            `json:"status" enum:"ok,ready,not_ready" doc:"ok (alive), ready, or not_ready."`
	Checks map[string]string `json:"checks,omitempty" doc:"Each check's result: ok, or what is wrong."`
}

type healthOutput struct {
	Status int
	Body   Health
}

func (s *Server) readyz(ctx context.Context, _ *struct{}) (*healthOutput, error) {
	out := &healthOutput{Status: http.StatusOK, Body: Health{Status: "ready", Checks: map[string]string{}}}
	fail := func(name, msg string) {
		out.Status, out.Body.Status = http.StatusServiceUnavailable, "not_ready"
		out.Body.Checks[name] = msg
	}
	if s.draining.Load() {
		fail("server", "shutting down")
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.d.Store.Ping(sctx); err != nil {
		fail("store", err.Error())
	} else {
		out.Body.Checks["store"] = "ok"
	}
	if err := s.checkSandbox(ctx); err != nil {
		fail("sandbox", err.Error())
	} else {
		out.Body.Checks["sandbox"] = "ok"
	}
	return out, nil
}

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
