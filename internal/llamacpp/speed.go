package llamacpp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Speed is what llama-server measured of one completion.
type Speed struct {
	PromptTokens    int     `json:"prompt_n"`
	PromptPerSecond float64 `json:"prompt_per_second"`
	Tokens          int     `json:"predicted_n"`
	PerSecond       float64 `json:"predicted_per_second"`
}

// Measure has the server complete prompt with exactly n tokens, the prompt
// processed afresh, and returns the server's own timings of it.
func (s *Server) Measure(ctx context.Context, prompt string, n int) (Speed, error) {
	lease, err := s.Acquire(ctx)
	if err != nil {
		return Speed{}, err
	}
	defer lease.Release()
	body, _ := json.Marshal(map[string]any{
		"prompt": prompt, "n_predict": n, "cache_prompt": false,
		"ignore_eos": true, "temperature": 0,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(lease.BaseURL, "v1")+"completion", bytes.NewReader(body))
	if err != nil {
		return Speed{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := lease.Client.Do(req)
	if err != nil {
		if lerr := lease.Err(); lerr != nil {
			return Speed{}, lerr
		}
		return Speed{}, fmt.Errorf("local model: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Speed{}, fmt.Errorf("local model: %s", resp.Status)
	}
	var out struct {
		Timings Speed `json:"timings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return Speed{}, fmt.Errorf("local model: %w", err)
	}
	return out.Timings, nil
}
