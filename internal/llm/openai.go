package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/ssestream"
)

// DefaultOpenAIBaseURL is OpenAI's own API.
const DefaultOpenAIBaseURL = "https://api.openai.com/v1"

// OpenAIConfig configures a provider for OpenAI's Chat Completions API, or
// any server compatible with it (vLLM, llama.cpp, LM Studio, DeepSeek,
// Qwen's compatible mode, Ollama's /v1...).
type OpenAIConfig struct {
	// APIKey is sent as a bearer token; none is sent if empty (local
	// servers rarely want one).
	APIKey string
	// BaseURL is the API's root, the part before /chat/completions:
	// DefaultOpenAIBaseURL if empty, http://localhost:8000/v1 for vLLM...
	BaseURL string
	// Model is used when a Request names none.
	Model string
	// MaxRetries bounds the retries of transient failures: 0 means
	// DefaultMaxRetries, negative means none.
	MaxRetries int
	// Timeout bounds, per attempt, the wait for the answer to start and
	// every pause within it: 0 means DefaultTimeout, negative means none.
	// A long answer that keeps coming is never cut; bound it with the
	// context.
	Timeout time.Duration
	// HTTPClient is the client to send requests with (it is copied, and its
	// transport wrapped); http.DefaultClient's settings if nil.
	HTTPClient *http.Client
}

// OpenAI is a Provider for the Chat Completions API, through the official
// openai-go SDK.
type OpenAI struct {
	cfg      OpenAIConfig
	svc      openai.ChatCompletionService
	models   openai.ModelService
	official bool // talking to OpenAI itself
	errs     errCtx
}

// NewOpenAI makes an OpenAI provider.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultOpenAIBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{Provider: "openai", Kind: ErrRequest, Err: err,
			Message: fmt.Sprintf("bad base URL %q: give one like https://api.openai.com/v1 or http://localhost:8000/v1", cfg.BaseURL)}
	}
	to := timeout(cfg.Timeout)
	client := withTransport(cfg.HTTPClient, func(rt http.RoundTripper) http.RoundTripper {
		return &idleTimeoutTransport{next: rt, timeout: to}
	})
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithHTTPClient(client),
		option.WithMaxRetries(retries(cfg.MaxRetries)),
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}
	hint := "check OPENAI_API_KEY"
	if u.Host != "api.openai.com" {
		hint = "check the API key for " + u.Host
	}
	return &OpenAI{
		cfg: cfg,
		// The service alone, not openai.NewClient: the client would read
		// OPENAI_BASE_URL, OPENAI_ORG_ID and such from the environment,
		// and the caller decides those.
		svc:      openai.NewChatCompletionService(opts...),
		models:   openai.NewModelService(opts...),
		official: u.Host == "api.openai.com",
		errs:     errCtx{provider: "openai", endpoint: cfg.BaseURL, authHint: hint, noKey: cfg.APIKey == ""},
	}, nil
}

// Name implements Provider.
func (p *OpenAI) Name() string { return "openai" }

// Models lists the models the server serves (GET /models), sorted.
func (p *OpenAI) Models(ctx context.Context) ([]string, error) {
	ec := p.errs
	page, err := p.models.List(ctx)
	if err != nil {
		return nil, p.fail(ctx, &ec, err, false)
	}
	ids := make([]string, 0, len(page.Data))
	for _, m := range page.Data {
		if m.ID != "" {
			ids = append(ids, m.ID)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// ServerModel picks the model to use with an OpenAI-compatible server
// when none is configured: the one model its /models lists. None, or
// several, is an error that says which and how to choose.
func (p *OpenAI) ServerModel(ctx context.Context) (string, error) {
	ids, err := p.Models(ctx)
	if err != nil {
		return "", err
	}
	return p.ServerModelOf(ids)
}

// ServerModelOf is ServerModel given what Models listed.
func (p *OpenAI) ServerModelOf(ids []string) (string, error) {
	switch len(ids) {
	case 1:
		return ids[0], nil
	case 0:
		return "", &Error{Provider: p.Name(), Kind: ErrRequest,
			Message: fmt.Sprintf("no model configured, and the server at %s lists none: pass --model (or set model in the config)", p.cfg.BaseURL)}
	}
	list := ids
	if len(list) > 20 {
		list = append(list[:20:20], fmt.Sprintf("... (%d in all)", len(ids)))
	}
	return "", &Error{Provider: p.Name(), Kind: ErrRequest,
		Message: fmt.Sprintf("no model configured, and the server at %s serves %d: pass --model with one of %s", p.cfg.BaseURL, len(ids), strings.Join(list, ", "))}
}

// Stream implements Provider.
func (p *OpenAI) Stream(ctx context.Context, req *Request, emit func(Delta)) (*Response, error) {
	model, err := modelFor(p.Name(), req, p.cfg.Model)
	if err != nil {
		return nil, err
	}
	params, err := p.params(req, model)
	if err != nil {
		return nil, err
	}
	ec := p.errs
	ec.model = model
	count := func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		ec.attempts++
		return next(r)
	}
	stream := p.svc.NewStreaming(ctx, params, option.WithMiddleware(count))
	defer stream.Close()

	acc := newToolCallAcc(emit)
	var usage Usage
	var finish string
	for stream.Next() {
		chunk := stream.Current()
		if chunk.JSON.Usage.Valid() {
			usage = Usage{InputTokens: int(chunk.Usage.PromptTokens), OutputTokens: int(chunk.Usage.CompletionTokens)}
		}
		for _, c := range chunk.Choices {
			if c.Index != 0 {
				continue
			}
			acc.addText(c.Delta.Content)
			acc.addText(c.Delta.Refusal)
			for _, tc := range c.Delta.ToolCalls {
				acc.fragment(int(tc.Index), tc.ID, tc.Function.Name, tc.Function.Arguments)
			}
			if c.FinishReason != "" {
				finish = c.FinishReason
			}
		}
	}
	if err := stream.Err(); err != nil {
		return nil, p.fail(ctx, &ec, err, acc.started())
	}
	if finish == "" {
		return nil, ec.broken("the stream ended before the model finished")
	}
	return &Response{Message: acc.message(), Usage: usage, StopReason: finish}, nil
}

func (p *OpenAI) fail(ctx context.Context, ec *errCtx, err error, started bool) *Error {
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		var h http.Header
		if apiErr.Response != nil {
			h = apiErr.Response.Header
		}
		code := apiErr.Code
		if code == "" {
			code = apiErr.Type
		}
		return ec.status(apiErr.StatusCode, h, apiErr.Message, code, err)
	}
	var streamErr *ssestream.StreamError
	if errors.As(err, &streamErr) {
		// The server reported an error in the middle of the stream.
		msg := strings.TrimPrefix(streamErr.Message, "received error while streaming: ")
		var ev struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(streamErr.Event.Data, &ev) == nil && ev.Error.Message != "" {
			msg = ev.Error.Message
		}
		return &Error{Provider: p.Name(), Kind: ErrServer, Err: err,
			Message: "the server failed mid-answer (" + oneLine(msg) + "): try again"}
	}
	return ec.failure(ctx, err, started)
}

// params maps a Request to the SDK's.
func (p *OpenAI) params(req *Request, model string) (openai.ChatCompletionNewParams, error) {
	var msgs []openai.ChatCompletionMessageParamUnion
	if req.System != "" {
		msgs = append(msgs, openai.SystemMessage(req.System))
	}
	// The chat API takes no images in tool messages: those of a run of
	// tool messages go in a user message right after it.
	var toolImages []openai.ChatCompletionContentPartUnionParam
	flush := func() {
		if len(toolImages) > 0 {
			msgs = append(msgs, openai.UserMessage(toolImages))
			toolImages = nil
		}
	}
	for i, m := range req.Messages {
		if m.Role != RoleTool {
			flush()
		}
		switch m.Role {
		case RoleSystem:
			msgs = append(msgs, openai.SystemMessage(m.Content))
		case RoleUser:
			if len(m.Images) == 0 {
				msgs = append(msgs, openai.UserMessage(m.Content))
				break
			}
			var parts []openai.ChatCompletionContentPartUnionParam
			if m.Content != "" {
				parts = append(parts, openai.TextContentPart(m.Content))
			}
			parts = append(parts, openAIImages(m.Images)...)
			msgs = append(msgs, openai.UserMessage(parts))
		case RoleAssistant:
			var a openai.ChatCompletionAssistantMessageParam
			if m.Content != "" || len(m.ToolCalls) == 0 {
				a.Content.OfString = openai.String(m.Content)
			}
			for _, tc := range m.ToolCalls {
				args := tc.Arguments
				if strings.TrimSpace(args) == "" {
					args = "{}"
				}
				a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
						ID:       tc.ID,
						Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: tc.Name, Arguments: args},
					},
				})
			}
			msgs = append(msgs, openai.ChatCompletionMessageParamUnion{OfAssistant: &a})
		case RoleTool:
			msgs = append(msgs, openai.ToolMessage(m.Content, m.ToolCallID))
			if len(m.Images) > 0 {
				toolImages = append(toolImages, openai.TextContentPart(fmt.Sprintf("The images that tool call %s returned:", m.ToolCallID)))
				toolImages = append(toolImages, openAIImages(m.Images)...)
			}
		default:
			return openai.ChatCompletionNewParams{}, &Error{Provider: p.Name(), Kind: ErrRequest,
				Message: fmt.Sprintf("message %d has the unknown role %q: use user, assistant, tool or system", i, m.Role)}
		}
	}
	flush()

	params := openai.ChatCompletionNewParams{
		Model:    model,
		Messages: msgs,
	}
	params.StreamOptions.IncludeUsage = openai.Bool(true)
	if req.MaxTokens > 0 {
		if p.official {
			params.MaxCompletionTokens = openai.Int(int64(req.MaxTokens))
		} else {
			// What compatible servers understand, all of them.
			params.MaxTokens = openai.Int(int64(req.MaxTokens))
		}
	}
	if req.Temperature != nil {
		params.Temperature = openai.Float(*req.Temperature)
	}
	if req.RequireTool && len(req.Tools) > 0 {
		params.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")}
	}
	if extra := constraints(req); extra != nil {
		params.SetExtraFields(extra)
	}
	for _, t := range req.Tools {
		fd := openai.FunctionDefinitionParam{Name: t.Name, Parameters: openai.FunctionParameters(schemaOrEmpty(t.Parameters))}
		if t.Description != "" {
			fd.Description = openai.String(t.Description)
		}
		params.Tools = append(params.Tools, openai.ChatCompletionFunctionTool(fd))
	}
	return params, nil
}

func openAIImages(imgs []Image) []openai.ChatCompletionContentPartUnionParam {
	var parts []openai.ChatCompletionContentPartUnionParam
	for _, img := range imgs {
		parts = append(parts, openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: dataURL(img)}))
	}
	return parts
}

// schemaOrEmpty is a tool's parameter schema, or one for no parameters.
func schemaOrEmpty(s map[string]any) map[string]any {
	if s == nil {
		return map[string]any{"type": "object", "properties": map[string]any{}}
	}
	return s
}

// constraints are the request's grammar and schema as llama-server takes
// them, beside the standard fields.
func constraints(req *Request) map[string]any {
	extra := map[string]any{}
	if req.Grammar != "" {
		extra["grammar"] = req.Grammar
	}
	if req.JSONSchema != nil {
		extra["json_schema"] = req.JSONSchema
	}
	if len(extra) == 0 {
		return nil
	}
	return extra
}
