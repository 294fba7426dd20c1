package mcpserver

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store"
)

// maxRecordedFile caps a workspace file recorded with a file event.
const maxRecordedFile = 64 << 20

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
	id, err := s.cfg.History.NewConversation(ctx, store.ConversationInfo{Kind: store.KindExec, Title: title})
	var rec *store.Recorder
	if err == nil {
		rec, err = s.cfg.History.StartExec(ctx, id, &store.RecorderOptions{ReadFile: func(p string) ([]byte, error) {
			sess := c.current()
			if sess == nil {
				return nil, session.ErrClosed
			}
			k := sess.Kernel()
			if k == nil || k.Workspace() == nil {
				return nil, session.ErrClosed
			}
			return k.Workspace().Read(p, maxRecordedFile)
		}})
	}
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
