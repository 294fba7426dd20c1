package mcpserver

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store"
)

// recorder returns the history recorder of a client's MCP session,
// starting its conversation on the first call that runs code: one
// conversation of kind exec per MCP session, titled after the client. It
// returns nil when history is off or could not be started; the call runs
// regardless, and the failure is logged once.
func (s *Server) recorder(ctx context.Context, c *client, ss *mcp.ServerSession) *store.Recorder {
	if s.cfg.History == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec != nil || c.recFailed {
		return c.rec
	}
	title := "MCP"
	if p := ss.InitializeParams(); p != nil && p.ClientInfo != nil && p.ClientInfo.Name != "" {
		title = "MCP: " + p.ClientInfo.Name
	}
	// The recorder keeps its context for the session's later calls: not
	// this call's, which ends with it.
	ctx = context.WithoutCancel(ctx)
	rec, err := s.cfg.History.StartExec(ctx, "", &store.RecorderOptions{Files: c, New: store.ConversationInfo{Source: store.SourceMCP, Title: title}})
	if err != nil {
		c.recFailed = true
		s.cfg.Logger.Error("history: not recording this MCP session", "err", err)
		return nil
	}
	c.rec = rec
	return rec
}

// finishRecording closes a client's conversation in the history.
func (s *Server) finishRecording(c *client) {
	c.mu.Lock()
	rec := c.rec
	c.rec = nil
	c.mu.Unlock()
	if rec == nil {
		return
	}
	if err := rec.Finish(context.Background(), nil, nil); err != nil {
		s.cfg.Logger.Error("history: finish", "err", err)
	}
	if err := rec.Err(); err != nil {
		s.cfg.Logger.Error("history: recording", "err", err)
	}
}

// ReadFile reads a file of the client's current session, for the history.
func (c *client) ReadFile(path string, max int64) ([]byte, error) {
	sess := c.current()
	if sess == nil {
		return nil, session.ErrClosed
	}
	return sess.ReadFile(path, max)
}
