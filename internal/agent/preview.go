package agent

import (
	"context"
	_ "embed"
	"strings"
	"time"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/session"
)

// previewCode prints the shape, columns, dtypes and first rows of each
// table in the workspace. It runs in the sandbox, like the model's code:
// the files are the user's, and reading them is no business of the host.
//
//go:embed preview.py
var previewCode string

// Bounds of the preview, so that it never crowds the prompt.
const (
	previewTimeout = 20 * time.Second
	maxPreview     = 4000 // bytes
)

// dataPreview returns a preview of the tables in the workspace, or "" if
// there are none or it failed: the preview is a help, never a condition.
func (a *Agent) dataPreview(ctx context.Context) string {
	var out session.Outcome
	done, err := a.cfg.Session.Execute(ctx, previewCode, session.ExecOptions{Timeout: previewTimeout}, out.Add)
	if err != nil || done.Status != event.StatusOK {
		return ""
	}
	text := strings.TrimSpace(out.Stdout())
	if len(text) > maxPreview {
		text = text[:maxPreview] + "\n[preview cut]"
	}
	return text
}
