package llamacpp

import (
	"context"
	"errors"
	"time"

	"github.com/interp-dev/interp/internal/llm"
)

// ProviderName is the name of the local provider.
const ProviderName = "local"

// Provider is an llm.Provider for a model run by a Server: the OpenAI
// provider, pointed at the server, which is started on the first request
// and watched during each, so that a crash is an error at once rather than
// a hang.
type Provider struct {
	srv   *Server
	model string
}

// NewProvider returns a provider for srv's model, named model in
// responses and history.
func NewProvider(srv *Server, model string) *Provider {
	return &Provider{srv: srv, model: model}
}

// Name implements llm.Provider.
func (p *Provider) Name() string { return ProviderName }

// SupportsGrammar implements llm.GrammarProvider: llama-server obeys
// GBNF grammars.
func (p *Provider) SupportsGrammar() bool { return true }

// Close stops the server.
func (p *Provider) Close() error { return p.srv.Close() }

// Server returns the server the provider uses.
func (p *Provider) Server() *Server { return p.srv }

// Stream implements llm.Provider.
func (p *Provider) Stream(ctx context.Context, req *llm.Request, emit func(llm.Delta)) (*llm.Response, error) {
	lease, err := p.srv.Acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &llm.Error{Provider: ProviderName, Kind: llm.ErrServer, Message: err.Error(), Err: err}
	}
	defer lease.Release()
	oai, err := llm.NewOpenAI(llm.OpenAIConfig{
		BaseURL: lease.BaseURL, HTTPClient: lease.Client, Model: p.model,
		// A local server that failed will not do better on a retry, and
		// a crash is noticed through lease.Exited instead.
		MaxRetries: -1,
	})
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-lease.Exited:
			cancel()
		case <-sctx.Done():
		}
	}()
	r := *req
	if r.Model == "" {
		r.Model = p.model
	}
	resp, err := oai.Stream(sctx, &r, emit)
	if err == nil && ctx.Err() != nil {
		// Cancelled as the last tokens, already read, were handed out:
		// a caller that cancelled is told so, whenever it did.
		return nil, ctx.Err()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A dead server's connection may break before its exit is
		// reaped: give the exit a moment to show.
		if !llm.IsKind(err, llm.ErrRequest) {
			select {
			case <-lease.Exited:
			case <-time.After(2 * time.Second):
			}
		}
		if lerr := lease.Err(); lerr != nil {
			return nil, &llm.Error{Provider: ProviderName, Kind: llm.ErrServer, Message: lerr.Error(), Err: lerr}
		}
		var le *llm.Error
		if errors.As(err, &le) {
			le.Provider = ProviderName
		}
	}
	return resp, err
}
