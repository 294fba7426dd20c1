package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// Each user's settings, kept in the store: the model their tasks use,
// chosen among those the server offers (GET /v1/models), the limits of
// the sessions they start without asking for others, within the server's
// range, and whether the web UI asks before running code. The server checks them when they are saved, and again when they
// are used: a model the server no longer offers falls back to its default.

// ModelChoice is a provider and model the server can run tasks with.
type ModelChoice struct {
	Provider string `json:"provider" doc:"The provider: local, openai, anthropic or ollama."`
	Model    string `json:"model" doc:"The model's name at the provider."`
	Default  bool   `json:"default,omitempty" doc:"Tasks use it when the user chose none."`
	Local    bool   `json:"local,omitempty" doc:"It runs on the server's own CPU (llama.cpp)."`
}

// ModelFactory returns the model of one of Deps.Models. It is called for
// each task whose user chose a model.
type ModelFactory func(ctx context.Context, provider, model string) (*LLM, error)

// ModelList is what GET /v1/models answers.
type ModelList struct {
	Models []ModelChoice `json:"models" doc:"The models users may choose, the default first; empty when tasks are off."`
}

type modelListOutput struct {
	Body ModelList
}

// UserSettings are a user's settings. Zero values take the server's
// defaults.
type UserSettings struct {
	Provider    string  `json:"provider,omitempty" maxLength:"32" doc:"The provider of the model tasks use; with model, one of GET /v1/models. Absent: the server's default."`
	Model       string  `json:"model,omitempty" maxLength:"200" doc:"The model tasks use, of provider."`
	Memory      int64   `json:"memory,omitempty" minimum:"0" doc:"Memory limit in bytes of the sessions the user starts without asking for one, within limits.memory; 0: the server's default."`
	CellTimeout float64 `json:"cell_timeout,omitempty" minimum:"0" doc:"Time limit of one execution in seconds for those sessions, within limits.cell_timeout; 0: the server's default."`
	// Confirm is kept for the front ends, which start the user's tasks
	// with confirm when it is set; the API's tasks ask only when told.
	Confirm bool `json:"confirm,omitempty" doc:"Ask before running code: the web UI starts your tasks with confirm (see POST /v1/tasks). A task's own confirm field decides for that task."`
}

// Range is what a setting may be: from Min to Max, Default when unset.
type Range struct {
	Min     float64 `json:"min"`
	Max     float64 `json:"max"`
	Default float64 `json:"default"`
}

// SettingLimits are the ranges the server allows.
type SettingLimits struct {
	Memory      Range `json:"memory" doc:"Bytes."`
	CellTimeout Range `json:"cell_timeout" doc:"Seconds."`
}

// Settings is a user's settings with what the server allows.
type Settings struct {
	Settings UserSettings  `json:"settings"`
	Models   []ModelChoice `json:"models" doc:"The models to choose from, as GET /v1/models."`
	Limits   SettingLimits `json:"limits" doc:"The ranges the server allows."`
}

type settingsOutput struct {
	Body Settings
}

type putSettingsInput struct {
	Body UserSettings
}

func (s *Server) models() []ModelChoice {
	if len(s.d.Models) == 0 {
		return []ModelChoice{}
	}
	return s.d.Models
}

func (s *Server) listModels(context.Context, *struct{}) (*modelListOutput, error) {
	return &modelListOutput{Body: ModelList{Models: s.models()}}, nil
}

func (s *Server) settingsOf(st UserSettings) *settingsOutput {
	return &settingsOutput{Body: Settings{Settings: st, Models: s.models(), Limits: SettingLimits{
		Memory:      Range{Min: minMemory, Max: float64(s.cfg.MaxMemory), Default: float64(s.cfg.DefaultMemory)},
		CellTimeout: Range{Min: minSeconds, Max: s.cfg.MaxCellTimeout.Seconds(), Default: s.cfg.DefaultCellTimeout.Seconds()},
	}}}
}

func (s *Server) getSettings(ctx context.Context, _ *struct{}) (*settingsOutput, error) {
	var st UserSettings
	if err := s.d.Store.UserSettings(ctx, userFrom(ctx).ID, &st); err != nil {
		return nil, err
	}
	return s.settingsOf(st), nil
}

func (s *Server) putSettings(ctx context.Context, in *putSettingsInput) (*settingsOutput, error) {
	st := in.Body
	if err := s.checkSettings(st); err != nil {
		return nil, huma.Error422UnprocessableEntity(err.Error())
	}
	if err := s.d.Store.SetUserSettings(ctx, userFrom(ctx).ID, st); err != nil {
		return nil, err
	}
	return s.settingsOf(st), nil
}

// checkSettings tells what is wrong with settings, if anything.
func (s *Server) checkSettings(st UserSettings) error {
	if (st.Provider == "") != (st.Model == "") {
		return fmt.Errorf("provider and model go together: give both (one of GET /v1/models) or neither")
	}
	if st.Provider != "" && !s.offers(st.Provider, st.Model) {
		return fmt.Errorf("this server does not offer %s model %q: choose one of GET /v1/models", st.Provider, st.Model)
	}
	return s.cfg.checkLimits(st.Memory, st.CellTimeout)
}

// checkLimits tells whether a session's memory (bytes) and cell time
// limit (seconds) are within the server's range; 0 is the default and
// always is. Settings, their later use and new sessions all check here,
// so that they agree and say the same.
func (c Config) checkLimits(memory int64, cellTimeout float64) error {
	if memory != 0 && (memory < minMemory || memory > c.MaxMemory) {
		return fmt.Errorf("memory %d is not between %d and the server's maximum of %d bytes", memory, int64(minMemory), c.MaxMemory)
	}
	// NaN fails both comparisons: it is refused by asking the opposite.
	if cellTimeout != 0 && !(cellTimeout >= minSeconds && cellTimeout <= c.MaxCellTimeout.Seconds()) {
		return fmt.Errorf("cell_timeout %g s is not between %g and the server's maximum of %g s", cellTimeout, minSeconds, c.MaxCellTimeout.Seconds())
	}
	return nil
}

func (s *Server) offers(provider, model string) bool {
	for _, m := range s.d.Models {
		if m.Provider == provider && m.Model == model {
			return true
		}
	}
	return false
}

// userSettings returns a user's settings, checked again: what the server
// no longer allows is dropped, for its default.
func (s *Server) userSettings(ctx context.Context, userID string) (UserSettings, error) {
	var st UserSettings
	if err := s.d.Store.UserSettings(ctx, userID, &st); err != nil {
		return st, err
	}
	if st.Provider != "" && (s.d.ModelFor == nil || !s.offers(st.Provider, st.Model)) {
		st.Provider, st.Model = "", ""
	}
	if s.cfg.checkLimits(st.Memory, 0) != nil {
		st.Memory = 0
	}
	if s.cfg.checkLimits(0, st.CellTimeout) != nil {
		st.CellTimeout = 0
	}
	return st, nil
}

// sessionDefaults returns the limits of a session the user starts without
// asking for any: their settings', else the server's.
func (s *Server) sessionDefaults(st UserSettings) (int64, time.Duration) {
	memory, timeout := s.cfg.DefaultMemory, s.cfg.DefaultCellTimeout
	if st.Memory != 0 {
		memory = st.Memory
	}
	if st.CellTimeout != 0 {
		timeout = time.Duration(st.CellTimeout * float64(time.Second))
	}
	return memory, timeout
}

// modelOf returns the model of a user's tasks: the one they chose, else
// the server's.
func (s *Server) modelOf(ctx context.Context, st UserSettings) (*LLM, error) {
	if st.Provider != "" {
		return s.d.ModelFor(ctx, st.Provider, st.Model)
	}
	return s.d.LLM(ctx)
}

func (s *Server) registerSettings() {
	huma.Register(s.api, s.op("list-models", http.MethodGet, "/v1/models", "List the models tasks can use", "users", authErrors), s.listModels)
	huma.Register(s.api, s.op("get-settings", http.MethodGet, "/v1/me/settings", "Your settings, and what the server allows", "users", authErrors), s.getSettings)
	put := s.op("put-settings", http.MethodPut, "/v1/me/settings", "Save your settings", "users", authErrors, http.StatusUnprocessableEntity)
	put.Description = "Replaces your settings: the model your tasks use (one of GET /v1/models), the limits of sessions you start without asking for others (within limits), and whether the web UI asks before running code. 422 says what is out of range."
	huma.Register(s.api, put, s.putSettings)
}
