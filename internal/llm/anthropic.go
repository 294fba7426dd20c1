package llm

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// DefaultAnthropicBaseURL is Anthropic's API.
const DefaultAnthropicBaseURL = "https://api.anthropic.com"

// DefaultAnthropicMaxTokens bounds answers when neither the Request nor
// the config does: the Messages API wants a bound.
const DefaultAnthropicMaxTokens = 4096

// AnthropicConfig configures a provider for Anthropic's Messages API.
type AnthropicConfig struct {
	// APIKey authenticates; required by Anthropic itself.
	APIKey string
	// BaseURL is the API's root, the part before /v1/messages:
	// DefaultAnthropicBaseURL if empty.
	BaseURL string
	// Model is used when a Request names none.
	Model string
	// MaxTokens bounds answers when a Request does not:
	// DefaultAnthropicMaxTokens if 0.
	MaxTokens int
	// MaxRetries bounds the retries of transient failures: 0 means
	// DefaultMaxRetries, negative means none.
	MaxRetries int
	// Timeout bounds, per attempt, the wait for the answer to start and
	// every pause within it: 0 means DefaultTimeout, negative means none.
	Timeout time.Duration
	// HTTPClient is the client to send requests with (it is copied, and its
	// transport wrapped); http.DefaultClient's settings if nil.
	HTTPClient *http.Client
}

// Anthropic is a Provider for Anthropic's Messages API, through the
// official anthropic-sdk-go.
type Anthropic struct {
	cfg    AnthropicConfig
	client anthropic.Client
	errs   errCtx
}

// NewAnthropic makes an Anthropic provider.
func NewAnthropic(cfg AnthropicConfig) (*Anthropic, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultAnthropicBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{Provider: "anthropic", Kind: ErrRequest, Err: err,
			Message: fmt.Sprintf("bad base URL %q: give one like %s", cfg.BaseURL, DefaultAnthropicBaseURL)}
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = DefaultAnthropicMaxTokens
	}
	to := timeout(cfg.Timeout)
	client := withTransport(cfg.HTTPClient, func(rt http.RoundTripper) http.RoundTripper {
		return &idleTimeoutTransport{next: rt, timeout: to}
	})
	opts := []option.RequestOption{
		// The caller decides the key and the URL, not ANTHROPIC_* variables
		// or profiles on disk.
		option.WithoutEnvironmentDefaults(),
		option.WithBaseURL(cfg.BaseURL),
		option.WithHTTPClient(client),
		option.WithMaxRetries(retries(cfg.MaxRetries)),
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}
	hint := "check ANTHROPIC_API_KEY"
	if u.Host != "api.anthropic.com" {
		hint = "check the API key for " + u.Host
	}
	return &Anthropic{
		cfg:    cfg,
		client: anthropic.NewClient(opts...),
		errs:   errCtx{provider: "anthropic", endpoint: cfg.BaseURL, authHint: hint, noKey: cfg.APIKey == ""},
	}, nil
}

// Name implements Provider.
func (p *Anthropic) Name() string { return "anthropic" }

// Stream implements Provider.
func (p *Anthropic) Stream(ctx context.Context, req *Request, emit func(Delta)) (*Response, error) {
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
	mw := func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		ec.attempts++
		res, err := next(r)
		// The SDK waits as long as Retry-After says, hours if so: past
		// maxRetryAfter, report the failure at once instead.
		if err == nil && (res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500) &&
			parseRetryAfter(res.Header) > maxRetryAfter {
			res.Header.Set("X-Should-Retry", "false")
		}
		return res, err
	}
	opts := []option.RequestOption{option.WithMiddleware(mw)}
	if req.Temperature != nil {
		// This SDK has no field for it; the API still takes it.
		opts = append(opts, option.WithJSONSet("temperature", *req.Temperature))
	}
	stream := p.client.Messages.NewStreaming(ctx, params, opts...)
	defer stream.Close()

	acc := newToolCallAcc(emit)
	tools := map[int64]bool{} // the content blocks that are tool calls
	var usage Usage
	var stop string
	var done bool
	for stream.Next() {
		ev := stream.Current()
		switch ev.Type {
		case "message_start":
			u := ev.Message.Usage
			usage.InputTokens = int(u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens)
			usage.OutputTokens = int(u.OutputTokens)
		case "content_block_start":
			switch cb := ev.ContentBlock; cb.Type {
			case "text":
				acc.addText(cb.Text)
			case "tool_use":
				tools[ev.Index] = true
				acc.fragment(int(ev.Index), cb.ID, cb.Name, "")
			}
		case "content_block_delta":
			switch ev.Delta.Type {
			case "text_delta":
				acc.addText(ev.Delta.Text)
			case "input_json_delta":
				if tools[ev.Index] {
					acc.fragment(int(ev.Index), "", "", ev.Delta.PartialJSON)
				}
			}
		case "message_delta":
			if ev.Delta.StopReason != "" {
				stop = string(ev.Delta.StopReason)
			}
			if in := ev.Usage.InputTokens + ev.Usage.CacheCreationInputTokens + ev.Usage.CacheReadInputTokens; in > 0 {
				usage.InputTokens = int(in)
			}
			if ev.Usage.OutputTokens > 0 {
				usage.OutputTokens = int(ev.Usage.OutputTokens)
			}
		case "message_stop":
			done = true
		}
	}
	if err := stream.Err(); err != nil {
		return nil, p.fail(ctx, &ec, err, acc.started())
	}
	if !done {
		return nil, ec.broken("the stream ended without message_stop")
	}
	return &Response{Message: acc.message(), Usage: usage, StopReason: stop}, nil
}

func (p *Anthropic) fail(ctx context.Context, ec *errCtx, err error, started bool) *Error {
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) {
		return ec.failure(ctx, err, started)
	}
	typ := string(apiErr.Type())
	if apiErr.StatusCode < 400 {
		// An error event in the middle of the stream.
		e := &Error{Provider: p.Name(), Kind: ErrServer, Err: err}
		msg := oneLine(apiErr.Message)
		if msg == "" {
			msg = typ
		}
		switch typ {
		case "rate_limit_error":
			e.Kind = ErrRateLimit
			e.Message = "rate limited mid-answer (" + msg + "): wait a minute and try again"
		case "overloaded_error":
			e.Message = "the service is overloaded (" + msg + "): try again later"
		case "":
			e.Kind = ErrBrokenReply
			e.Message = "the server sent an error event that makes no sense: try again"
		default:
			e.Message = "the server failed mid-answer (" + msg + "): try again"
		}
		return e
	}
	var h http.Header
	if apiErr.Response != nil {
		h = apiErr.Response.Header
	}
	return ec.status(apiErr.StatusCode, h, apiErr.Message, typ, err)
}

// params maps a Request to the SDK's. Anthropic wants the system prompt
// apart, tool results in user messages, and the roles alternating, so
// consecutive messages of one side are merged.
func (p *Anthropic) params(req *Request, model string) (anthropic.MessageNewParams, error) {
	var system []anthropic.TextBlockParam
	if req.System != "" {
		system = append(system, anthropic.TextBlockParam{Text: req.System})
	}
	var msgs []anthropic.MessageParam
	add := func(user bool, blocks []anthropic.ContentBlockParamUnion) {
		if len(blocks) == 0 {
			return
		}
		if n := len(msgs); n > 0 {
			if last := msgs[n-1]; user && last.OfUser != nil {
				last.OfUser.Content = append(last.OfUser.Content, blocks...)
				return
			} else if !user && last.OfAssistant != nil {
				last.OfAssistant.Content = append(last.OfAssistant.Content, blocks...)
				return
			}
		}
		if user {
			msgs = append(msgs, anthropic.NewUserMessage(blocks...))
		} else {
			msgs = append(msgs, anthropic.NewAssistantMessage(blocks...))
		}
	}
	for i, m := range req.Messages {
		var blocks []anthropic.ContentBlockParamUnion
		switch m.Role {
		case RoleSystem:
			if m.Content != "" {
				system = append(system, anthropic.TextBlockParam{Text: m.Content})
			}
		case RoleUser:
			// Empty text blocks are refused.
			if m.Content != "" {
				blocks = append(blocks, anthropic.NewTextBlock(m.Content))
			}
			for _, img := range m.Images {
				blocks = append(blocks, anthropic.NewImageBlockBase64(imageMIME(img), base64.StdEncoding.EncodeToString(img.Data)))
			}
			add(true, blocks)
		case RoleAssistant:
			if m.Content != "" {
				blocks = append(blocks, anthropic.NewTextBlock(m.Content))
			}
			for _, tc := range m.ToolCalls {
				blocks = append(blocks, anthropic.NewToolUseBlock(tc.ID, jsonObject(tc.Arguments), tc.Name))
			}
			add(false, blocks)
		case RoleTool:
			res := anthropic.ToolResultBlockParam{ToolUseID: m.ToolCallID}
			if m.Content != "" {
				res.Content = append(res.Content, anthropic.ToolResultBlockParamContentUnion{OfText: &anthropic.TextBlockParam{Text: m.Content}})
			}
			for _, img := range m.Images {
				b := anthropic.NewImageBlockBase64(imageMIME(img), base64.StdEncoding.EncodeToString(img.Data))
				res.Content = append(res.Content, anthropic.ToolResultBlockParamContentUnion{OfImage: b.OfImage})
			}
			add(true, []anthropic.ContentBlockParamUnion{{OfToolResult: &res}})
		default:
			return anthropic.MessageNewParams{}, &Error{Provider: p.Name(), Kind: ErrRequest,
				Message: fmt.Sprintf("message %d has the unknown role %q: use user, assistant, tool or system", i, m.Role)}
		}
	}

	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = p.cfg.MaxTokens
	}
	params := anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: int64(maxTokens),
		Messages:  msgs,
		System:    system,
	}
	for _, t := range req.Tools {
		tool := anthropic.ToolParam{Name: t.Name, InputSchema: anthropicSchema(t.Parameters)}
		if t.Description != "" {
			tool.Description = anthropic.String(t.Description)
		}
		params.Tools = append(params.Tools, anthropic.ToolUnionParam{OfTool: &tool})
	}
	if req.RequireTool && len(req.Tools) > 0 {
		params.ToolChoice = anthropic.ToolChoiceUnionParam{OfAny: &anthropic.ToolChoiceAnyParam{}}
	}
	return params, nil
}

// anthropicSchema maps a JSON Schema object to the SDK's input schema.
func anthropicSchema(s map[string]any) anthropic.ToolInputSchemaParam {
	var in anthropic.ToolInputSchemaParam
	for k, v := range s {
		switch k {
		case "type":
		case "properties":
			in.Properties = v
		case "required":
			switch r := v.(type) {
			case []string:
				in.Required = r
			case []any:
				for _, x := range r {
					if s, ok := x.(string); ok {
						in.Required = append(in.Required, s)
					}
				}
			}
		default:
			if in.ExtraFields == nil {
				in.ExtraFields = map[string]any{}
			}
			in.ExtraFields[k] = v
		}
	}
	if in.Properties == nil {
		in.Properties = map[string]any{}
	}
	return in
}
