package main

import (
	"context"
	"sync"

	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/server"
)

// serveModels returns the models interp serve offers its users' settings:
// the default (def) first, then the default model of each other provider
// the configuration enables, then every installed local model. The factory
// makes each provider once, on first use; closeAll closes those it made.
func (g *globalFlags) serveModels(s *config.Settings, def *server.LLM) (choices []server.ModelChoice, factory server.ModelFactory, closeAll func()) {
	cfg := s.File
	seen := map[[2]string]bool{}
	add := func(provider, model string) {
		k := [2]string{provider, model}
		if seen[k] || model == "" {
			return
		}
		seen[k] = true
		choices = append(choices, server.ModelChoice{Provider: provider, Model: model, Default: def != nil && provider == def.Name && model == def.Model, Local: provider == config.Local})
	}
	if def != nil {
		add(def.Name, def.Model)
	}
	if cfg.OpenAI.APIKey != "" || cfg.OpenAI.BaseURL != "" {
		add(config.OpenAI, config.DefaultModels[config.OpenAI])
	}
	if cfg.Anthropic.APIKey != "" {
		add(config.Anthropic, config.DefaultModels[config.Anthropic])
	}
	if cfg.Ollama.Host != "" {
		add(config.Ollama, config.DefaultModels[config.Ollama])
	}
	if fileExists(g.llamaServerPath()) {
		if ms, err := g.modelStore().List(); err == nil {
			for _, m := range ms {
				if m.Present {
					add(config.Local, m.Name)
				}
			}
		}
	}
	var mu sync.Mutex
	made := map[[2]string]*server.LLM{}
	if def != nil {
		made[[2]string{def.Name, def.Model}] = def
	}
	factory = func(_ context.Context, provider, model string) (*server.LLM, error) {
		mu.Lock()
		defer mu.Unlock()
		k := [2]string{provider, model}
		if m := made[k]; m != nil {
			return m, nil
		}
		p, err := g.newProvider(cfg, provider, model)
		if err != nil {
			return nil, err
		}
		m := &server.LLM{Provider: p, Name: provider, Model: model, Temperature: cfg.Temperature(provider), SmallModel: s.SmallModelFor(provider)}
		made[k] = m
		return m, nil
	}
	closeAll = func() {
		mu.Lock()
		defer mu.Unlock()
		for k, m := range made {
			if def == nil || m != def {
				closeProvider(m.Provider)
			}
			delete(made, k)
		}
	}
	return choices, factory, closeAll
}
