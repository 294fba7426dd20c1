package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
)

// DefaultOllamaHost is where Ollama listens unless told otherwise.
const DefaultOllamaHost = "http://127.0.0.1:11434"

// OllamaConfig configures a provider for Ollama's own API (/api/chat).
type OllamaConfig struct {
	// Host is the server: DefaultOllamaHost if empty. It takes what
	// OLLAMA_HOST takes: a URL (http://host:port), host:port, a host alone,
	// or :port.
	Host string
	// Model is used when a Request names none.
	Model string
	// Options are the model options sent with every request, num_ctx
	// above all: Ollama's default context is short, and it cuts prompts
	// that do not fit without a word. Request.MaxTokens sets num_predict.
	Options map[string]any
	// MaxRetries bounds the retries of transient failures (429, 5xx,
	// connection errors) before the answer starts: 0 means
	// DefaultMaxRetries, negative means none.
	MaxRetries int
	// Timeout bounds, per attempt, the wait for the answer to start (the
	// model may have to be loaded first) and every pause within it: 0
	// means DefaultTimeout, negative means none.
	Timeout time.Duration
	// HTTPClient is the client to send requests with (it is copied, and its
	// transport wrapped); http.DefaultClient's settings if nil.
	HTTPClient *http.Client
}

// Ollama is a Provider for Ollama's chat API, through its official client
// (github.com/ollama/ollama/api).
type Ollama struct {
	cfg     OllamaConfig
	base    *url.URL
	retries int
	timeout time.Duration
}

// NewOllama makes an Ollama provider.
func NewOllama(cfg OllamaConfig) (*Ollama, error) {
	base, err := ParseOllamaHost(cfg.Host)
	if err != nil {
		return nil, &Error{Provider: "ollama", Kind: ErrRequest, Err: err,
			Message: fmt.Sprintf("bad Ollama host %q: give one like 127.0.0.1:11434 or http://gpu-box:11434", cfg.Host)}
	}
	return &Ollama{cfg: cfg, base: base, retries: retries(cfg.MaxRetries), timeout: timeout(cfg.Timeout)}, nil
}

// ParseOllamaHost reads a host the way Ollama reads OLLAMA_HOST: a URL
// (http://host:port/path), host:port, host or :port, the port 11434 unless
// the URL's scheme implies another. Empty is DefaultOllamaHost.
func ParseOllamaHost(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = DefaultOllamaHost
	}
	defaultPort := "11434"
	scheme, hostport, ok := strings.Cut(s, "://")
	switch {
	case !ok:
		scheme, hostport = "http", s
	case scheme == "http":
		defaultPort = "80"
	case scheme == "https":
		defaultPort = "443"
	default:
		return nil, fmt.Errorf("unknown scheme %q", scheme)
	}
	hostport, path, _ := strings.Cut(hostport, "/")
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.Trim(hostport, "[]"), defaultPort
	}
	switch host {
	case "", "0.0.0.0", "::":
		// Where a server listens on all interfaces, reach it on loopback.
		host = "127.0.0.1"
	}
	if port == "" {
		port = defaultPort
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)}
	if path != "" {
		u.Path = "/" + path
	}
	if _, err := url.Parse(u.String()); err != nil {
		return nil, err
	}
	return u, nil
}

// Name implements Provider.
func (p *Ollama) Name() string { return "ollama" }

// ollamaCall is what the transport of one Stream call saw.
type ollamaCall struct {
	maxRetries int
	attempts   int
	status     int // of the last response, if it was an error
	header     http.Header
	errMsg     string // the error the server gave with status
	readErr    error  // the body broke: Ollama's client does not say
}

// ollamaTransport retries transient failures, which Ollama's client does
// not, before any byte of the answer arrived, and notes what it saw.
type ollamaTransport struct {
	next http.RoundTripper
	call *ollamaCall
}

func (t *ollamaTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = body
			}
		}
		t.call.attempts++
		res, err := t.next.RoundTrip(r)
		last := attempt >= t.call.maxRetries || ctx.Err() != nil ||
			(req.Body != nil && req.Body != http.NoBody && req.GetBody == nil)
		var wait time.Duration
		switch {
		case err != nil:
			if last {
				return nil, err
			}
			wait = backoff(attempt)
		case res.StatusCode >= 400:
			ra := parseRetryAfter(res.Header)
			retryable := res.StatusCode == http.StatusRequestTimeout || res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500
			if last || !retryable || ra > maxRetryAfter {
				t.note(res)
				return res, nil
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
			res.Body.Close()
			wait = ra
			if !hasRetryAfter(res.Header) {
				wait = backoff(attempt)
			}
		default:
			t.call.status = 0
			res.Body = &noteReadErr{rc: res.Body, call: t.call}
			return res, nil
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

// note keeps the status, headers and message of an error response, and
// gives the client a body it can read: Ollama's client takes an error
// response with an empty body for success.
func (t *ollamaTransport) note(res *http.Response) {
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	t.call.status, t.call.header = res.StatusCode, res.Header
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		t.call.errMsg = e.Error
	} else {
		t.call.errMsg = string(body)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body, _ = json.Marshal(map[string]string{"error": http.StatusText(res.StatusCode)})
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
}

type noteReadErr struct {
	rc   io.ReadCloser
	call *ollamaCall
}

func (b *noteReadErr) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF && b.call.readErr == nil {
		b.call.readErr = err
	}
	return n, err
}

func (b *noteReadErr) Close() error { return b.rc.Close() }

// Stream implements Provider.
func (p *Ollama) Stream(ctx context.Context, req *Request, emit func(Delta)) (*Response, error) {
	model, err := modelFor(p.Name(), req, p.cfg.Model)
	if err != nil {
		return nil, err
	}
	chatReq, err := p.request(req, model)
	if err != nil {
		return nil, err
	}
	call := &ollamaCall{maxRetries: p.retries}
	httpClient := withTransport(p.cfg.HTTPClient, func(rt http.RoundTripper) http.RoundTripper {
		return &ollamaTransport{next: &idleTimeoutTransport{next: rt, timeout: p.timeout}, call: call}
	})
	client := api.NewClient(p.base, httpClient)

	acc := newToolCallAcc(emit)
	var usage Usage
	var stop string
	var done bool
	calls := 0
	err = client.Chat(ctx, chatReq, func(r api.ChatResponse) error {
		acc.addText(r.Message.Content)
		for _, tc := range r.Message.ToolCalls {
			acc.fragment(calls, tc.ID, tc.Function.Name, tc.Function.Arguments.String())
			calls++
		}
		if r.Done {
			done = true
			stop = r.DoneReason
			usage = Usage{InputTokens: r.PromptEvalCount, OutputTokens: r.EvalCount}
		}
		return nil
	})

	ec := errCtx{provider: p.Name(), endpoint: p.base.String(), model: model, attempts: call.attempts,
		authHint: "run `ollama signin` if the model runs on ollama.com, or check OLLAMA_HOST"}
	switch {
	case ctx.Err() != nil:
		return nil, ec.failure(ctx, errors.Join(ctx.Err(), err), acc.started())
	case call.status >= 400:
		if err == nil {
			err = api.StatusError{StatusCode: call.status, ErrorMessage: call.errMsg}
		}
		e := ec.status(call.status, call.header, call.errMsg, "", err)
		switch call.status {
		case http.StatusUnauthorized:
			e.Message = fmt.Sprintf("the server wants a sign-in (%s): run `ollama signin` if the model runs on ollama.com, or check OLLAMA_HOST (%s)",
				oneLine(call.errMsg), p.base)
		case http.StatusForbidden:
			e.Message = fmt.Sprintf("access denied (%s): check that your ollama.com account may use model %q, or check OLLAMA_HOST (%s)",
				oneLine(call.errMsg), model, p.base)
		case http.StatusNotFound:
			e.Message = fmt.Sprintf("not found (%s): pull the model with `ollama pull %s`, or check the model name and OLLAMA_HOST (%s)",
				oneLine(call.errMsg), model, p.base)
		}
		return nil, e
	case err != nil:
		var urlErr *url.Error
		if errors.As(err, &urlErr) || call.readErr != nil {
			return nil, ec.failure(ctx, err, acc.started())
		}
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &syntaxErr) || errors.As(err, &typeErr) {
			return nil, ec.failure(ctx, err, acc.started())
		}
		// Ollama's client returns the error a server sent mid-stream, and
		// a line that is not JSON, as a bare error.
		return nil, &Error{Provider: p.Name(), Kind: ErrBrokenReply, Err: err,
			Message: "the answer broke off (" + oneLine(err.Error()) + "): try again; if it persists, see the Ollama server's log"}
	case call.readErr != nil && !done:
		// Ollama's client ends quietly when the stream breaks.
		return nil, ec.failure(ctx, call.readErr, acc.started())
	case !done:
		return nil, ec.broken("the stream ended before the model was done")
	}
	return &Response{Message: acc.message(), Usage: usage, StopReason: stop}, nil
}

// request maps a Request to Ollama's.
func (p *Ollama) request(req *Request, model string) (*api.ChatRequest, error) {
	var msgs []api.Message
	if req.System != "" {
		msgs = append(msgs, api.Message{Role: "system", Content: req.System})
	}
	names := map[string]string{} // tool call IDs to the tools' names
	for i, m := range req.Messages {
		om := api.Message{Role: m.Role, Content: m.Content}
		for _, img := range m.Images {
			om.Images = append(om.Images, api.ImageData(img.Data))
		}
		switch m.Role {
		case RoleSystem, RoleUser:
		case RoleAssistant:
			for j, tc := range m.ToolCalls {
				names[tc.ID] = tc.Name
				args := api.NewToolCallFunctionArguments()
				if err := args.UnmarshalJSON(jsonObject(tc.Arguments)); err != nil {
					return nil, &Error{Provider: p.Name(), Kind: ErrRequest, Err: err,
						Message: fmt.Sprintf("message %d: the arguments of tool call %s cannot be sent: %v", i, tc.ID, err)}
				}
				om.ToolCalls = append(om.ToolCalls, api.ToolCall{ID: tc.ID,
					Function: api.ToolCallFunction{Index: j, Name: tc.Name, Arguments: args}})
			}
		case RoleTool:
			om.ToolCallID = m.ToolCallID
			om.ToolName = names[m.ToolCallID]
		default:
			return nil, &Error{Provider: p.Name(), Kind: ErrRequest,
				Message: fmt.Sprintf("message %d has the unknown role %q: use user, assistant, tool or system", i, m.Role)}
		}
		msgs = append(msgs, om)
	}

	var tools api.Tools
	for _, t := range req.Tools {
		var params api.ToolFunctionParameters
		b, err := json.Marshal(schemaOrEmpty(t.Parameters))
		if err == nil {
			err = json.Unmarshal(b, &params)
		}
		if err != nil {
			return nil, &Error{Provider: p.Name(), Kind: ErrRequest, Err: err,
				Message: fmt.Sprintf("the parameters of tool %q are not a JSON Schema Ollama takes: %v", t.Name, err)}
		}
		if params.Type == "" {
			params.Type = "object"
		}
		if params.Properties == nil {
			params.Properties = api.NewToolPropertiesMap()
		}
		tools = append(tools, api.Tool{Type: "function",
			Function: api.ToolFunction{Name: t.Name, Description: t.Description, Parameters: params}})
	}

	opts := maps.Clone(p.cfg.Options)
	if req.MaxTokens > 0 {
		if opts == nil {
			opts = map[string]any{}
		}
		opts["num_predict"] = req.MaxTokens
	}
	if req.Temperature != nil {
		if opts == nil {
			opts = map[string]any{}
		}
		opts["temperature"] = *req.Temperature
	}
	stream := true
	return &api.ChatRequest{Model: model, Messages: msgs, Tools: tools, Options: opts, Stream: &stream}, nil
}
