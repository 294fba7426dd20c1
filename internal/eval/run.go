package eval

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/interp-dev/interp/internal/agent"
	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/llm"
	"github.com/interp-dev/interp/internal/session"
)

// Config says how to run a suite.
type Config struct {
	// NewSession starts a fresh session for one task; close ends it.
	NewSession func(ctx context.Context) (s *session.Session, close func(), err error)
	// Agent makes the agent's configuration for a task's session: the
	// provider, the model, the limits, and whether the small-model
	// measures are on. Session is set by the caller.
	Agent func(s *session.Session) agent.Config
	// TaskTimeout bounds one task, checking included: 0 means 10 minutes.
	TaskTimeout time.Duration
	// Progress, if set, is called after each task.
	Progress func(i int, r TaskResult)
	// Events, if set, gets every agent event of a task, to keep a
	// transcript.
	Events func(taskID string, ev agent.Event)
	// History, if set, gets a task's conversation when it is done, with
	// the model's raw tool calls, to keep a transcript.
	History func(taskID string, history []llm.Message)
	// Replay, if set, checks answers another agent gave instead of
	// running Interp's: by task ID, its answer and the directory its
	// workspace was left in.
	Replay map[string]Replayed
}

// Replayed is another agent's result on one task.
type Replayed struct {
	ID        string  `json:"id"`
	Answer    string  `json:"answer"`
	Workspace string  `json:"workspace,omitempty"` // a directory on the host
	Seconds   float64 `json:"seconds"`
	Steps     int     `json:"steps,omitempty"`
	Cells     int     `json:"cells,omitempty"`
	Errors    int     `json:"cell_errors,omitempty"`
	Tokens    int     `json:"tokens,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// TaskResult is how one task went.
type TaskResult struct {
	ID      string `json:"id"`
	Lang    string `json:"lang,omitempty"`
	Correct bool   `json:"correct"`
	// Detail says why an answer was judged wrong.
	Detail string `json:"detail,omitempty"`
	Answer string `json:"answer"`
	Stop   string `json:"stop,omitempty"`
	Reason string `json:"reason,omitempty"`
	Steps  int    `json:"steps"`
	// Unparsed lists the steps whose output was not well formed under
	// the agent's protocol (agent.Result.Unparsed).
	Unparsed []int `json:"unparsed_steps,omitempty"`
	// Cells counts the runs of code, CellErrors those that failed.
	Cells           int     `json:"cells"`
	CellErrors      int     `json:"cell_errors"`
	Tokens          int     `json:"tokens"`
	TokensEstimated bool    `json:"tokens_estimated,omitempty"`
	Seconds         float64 `json:"seconds"`
	// Error is set when the task could not be run at all.
	Error string `json:"error,omitempty"`
}

// Run runs every task of s, one at a time.
func Run(ctx context.Context, s *Suite, cfg Config) (*Report, error) {
	if cfg.NewSession == nil || (cfg.Agent == nil && cfg.Replay == nil) {
		return nil, errors.New("eval: a session factory and an agent are required")
	}
	if cfg.TaskTimeout == 0 {
		cfg.TaskTimeout = 10 * time.Minute
	}
	rep := &Report{Suite: s.Path, Started: time.Now().UTC()}
	for i, t := range s.Tasks {
		if ctx.Err() != nil {
			break
		}
		r := runTask(ctx, s, t, cfg)
		rep.Tasks = append(rep.Tasks, r)
		if cfg.Progress != nil {
			cfg.Progress(i, r)
		}
	}
	rep.Summary = summarise(rep.Tasks)
	return rep, ctx.Err()
}

func runTask(parent context.Context, s *Suite, t Task, cfg Config) TaskResult {
	res := TaskResult{ID: t.ID, Lang: t.Lang}
	ctx, cancel := context.WithTimeout(parent, cfg.TaskTimeout)
	defer cancel()
	start := time.Now()
	sess, closeSession, err := cfg.NewSession(ctx)
	if err != nil {
		res.Error = "start a session: " + err.Error()
		return res
	}
	defer closeSession()
	ws := sess.Kernel().Workspace()
	upload := func(dir string, names []string) error {
		for _, name := range names {
			f, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				return err
			}
			_, err = ws.Write(filepath.Base(name), f, 1<<30)
			f.Close()
			if err != nil {
				return fmt.Errorf("upload %s: %w", name, err)
			}
		}
		return nil
	}
	if err := upload(s.DataDir, t.Files); err != nil {
		res.Error = err.Error()
		return res
	}

	if cfg.Replay != nil {
		rp, ok := cfg.Replay[t.ID]
		if !ok {
			res.Error = "no replayed result for this task"
			return res
		}
		res.Answer, res.Seconds, res.Steps, res.Cells, res.CellErrors, res.Tokens = rp.Answer, rp.Seconds, rp.Steps, rp.Cells, rp.Errors, rp.Tokens
		res.Error = rp.Error
		if rp.Workspace != "" {
			if err := upload(rp.Workspace, workspaceFiles(rp.Workspace)); err != nil {
				res.Error = err.Error()
				return res
			}
		}
	} else {
		acfg := cfg.Agent(sess)
		acfg.Session = sess
		acfg.Confirm = nil
		ag, err := agent.New(acfg)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		out, err := ag.Run(ctx, t.Prompt, func(ev agent.Event) {
			switch {
			case ev.Type == event.Tool:
				res.Cells++
			case ev.Type == event.Done && ev.Status != event.StatusOK:
				res.CellErrors++
			}
			if cfg.Events != nil {
				cfg.Events(t.ID, ev)
			}
		})
		res.Seconds = time.Since(start).Seconds()
		if cfg.History != nil {
			cfg.History(t.ID, ag.History())
		}
		if err != nil {
			res.Error = err.Error()
			return res
		}
		res.Answer, res.Stop, res.Reason, res.Steps, res.Unparsed = out.Answer, out.Stop, out.Reason, out.Steps, out.Unparsed
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && parent.Err() == nil {
			res.Stop, res.Reason = "timeout", fmt.Sprintf("the task ran over its %v", cfg.TaskTimeout)
		}
		res.Tokens = out.Usage.InputTokens + out.Usage.OutputTokens
		res.TokensEstimated = out.Usage.Estimated
	}

	if len(t.Expect) > 0 {
		res.Correct, res.Detail = checkExpect(res.Answer, t.Expect, t.Tolerance)
	} else {
		res.Correct = true
	}
	if res.Correct && t.Check != "" {
		ok, detail, err := checkPredicate(context.WithoutCancel(ctx), sess, t.Check, res.Answer)
		if err != nil {
			res.Error = err.Error()
		}
		res.Correct, res.Detail = ok, detail
	}
	return res
}

// workspaceFiles lists the regular files under dir, relative to it.
func workspaceFiles(dir string) []string {
	var names []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && len(names) < 200 {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return nil
	})
	sort.Strings(names)
	return names
}
