package mcpserver

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

// maxImages caps the images of one result.
const maxImages = 8

// collector turns a cell's events into a tool result: session.Outcome
// gathers them, and the MCP side adds the image content, within its
// limits, and the structured output.
type collector struct {
	session.Outcome
	maxImageBytes int64
}

func newCollector(maxImageBytes int64) *collector {
	return &collector{maxImageBytes: maxImageBytes}
}

func (c *collector) add(ev session.Event) { c.Add(ev) }

// images returns the images to send as content and a description of every
// image, noting those left out over the result's limits.
func (c *collector) images() ([]session.Image, []ImageInfo) {
	var keep []session.Image
	var infos []ImageInfo
	var total int64
	for _, img := range c.Images() {
		info := ImageInfo{MIMEType: img.MIME, Width: img.Width, Height: img.Height, Bytes: len(img.Data)}
		if len(keep) >= maxImages || total+int64(len(img.Data)) > c.maxImageBytes {
			info.Omitted = true
		} else {
			keep = append(keep, img)
			total += int64(len(img.Data))
		}
		infos = append(infos, info)
	}
	return keep, infos
}

// output is the structured result.
func (c *collector) output(done session.Event) RunPythonOutput {
	_, infos := c.images()
	out := RunPythonOutput{
		Status:          done.Status,
		Stdout:          c.Stdout(),
		Stderr:          c.Stderr(),
		Results:         c.Results(),
		Images:          infos,
		Notes:           c.Notes(),
		Reason:          done.Reason,
		ExecutionCount:  done.ExecutionCount,
		DurationSeconds: done.Duration,
	}
	for _, f := range c.Files() {
		out.Files = append(out.Files, FileChange{Path: f.Path, Change: f.Change, Size: f.Size})
	}
	for _, p := range c.Installed() {
		out.Installed = append(out.Installed, InstalledPackage{Name: p.Package, Version: p.Version, Note: p.Message})
	}
	if f := c.Failure(); f != nil {
		out.Error = &PythonError{Name: f.EName, Value: f.EValue, Traceback: session.Traceback(f)}
	}
	return out
}

// text is the result for a reader: the status first, then each kind of
// output that there is.
func (c *collector) text(done session.Event) string {
	status := "[status: " + done.Status + "]"
	switch done.Status {
	case event.StatusError:
		if f := c.Failure(); f != nil {
			status += " the code raised " + f.EName
		}
	case event.StatusTimeout, event.StatusDied:
		if done.Reason != "" {
			status += " " + done.Reason
		}
	case event.StatusInterrupted:
		status += " the call was cancelled"
	}
	parts := []string{status}
	if body := c.Text(0); body != "" {
		parts = append(parts, body)
	} else if done.Status == event.StatusOK {
		parts = append(parts, "(no output)")
	}
	_, infos := c.images()
	for i, info := range infos {
		if info.Omitted {
			parts = append(parts, fmt.Sprintf("note: image %d (%s) omitted: over the result's limit of %d images or %s",
				i+1, sandbox.FormatBytes(int64(info.Bytes)), maxImages, sandbox.FormatBytes(c.maxImageBytes)))
		}
	}
	return strings.Join(parts, "\n")
}

// progress reports installs to a client that asked for progress.
type progress struct {
	ctx   context.Context
	ss    *mcp.ServerSession
	token any
	mu    sync.Mutex
	n     float64
}

func newProgress(ctx context.Context, req *mcp.CallToolRequest) *progress {
	if req == nil || req.Params == nil || req.Session == nil {
		return nil
	}
	tok := req.Params.GetProgressToken()
	if tok == nil {
		return nil
	}
	return &progress{ctx: ctx, ss: req.Session, token: tok}
}

func (p *progress) event(ev session.Event) {
	if p == nil || ev.Type != event.Install {
		return
	}
	var msg string
	switch ev.Phase {
	case event.PhaseResolving:
		msg = "resolving " + ev.Package
	case event.PhaseDownloading:
		switch {
		case ev.Total > 0 && ev.ETA > 0:
			msg = fmt.Sprintf("downloading %s: %s of %s, about %.0fs left", ev.Package, sandbox.FormatBytes(ev.Bytes), sandbox.FormatBytes(ev.Total), math.Ceil(ev.ETA))
		case ev.Total > 0:
			msg = fmt.Sprintf("downloading %s: %s of %s", ev.Package, sandbox.FormatBytes(ev.Bytes), sandbox.FormatBytes(ev.Total))
		default:
			msg = fmt.Sprintf("downloading %s: %s", ev.Package, sandbox.FormatBytes(ev.Bytes))
		}
	case event.PhaseInstalled:
		msg = strings.TrimSpace("installed " + ev.Package + " " + ev.Version)
	case event.PhaseFailed:
		msg = "install failed: " + ev.Message
	default:
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	_ = p.ss.NotifyProgress(p.ctx, &mcp.ProgressNotificationParams{ProgressToken: p.token, Progress: p.n, Message: msg})
}
