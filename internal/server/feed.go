package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// setRunning notes the journal of the task running in a conversation (nil
// when it ends), so that a client that knows only the conversation, such
// as a reloaded page, can follow it.
func (s *Server) setRunning(convID string, j *journal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j == nil {
		delete(s.convStream, convID)
	} else {
		s.convStream[convID] = j
	}
}

// followConversation streams the task running in a conversation from its
// first event, as GET /v1/streams/{id} does; 204 when none runs.
// X-Session-ID names the conversation's open session, if it has one.
func (s *Server) followConversation(ctx context.Context, in *conversationIDInput) (*huma.StreamResponse, error) {
	if err := s.ownConversation(ctx, in.ID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	j := s.convStream[in.ID]
	sid := s.convSession[in.ID]
	s.mu.Unlock()
	if sid != "" {
		if _, err := s.lookup(userFrom(ctx), sid); err != nil {
			sid = ""
		}
	}
	header := func(hctx huma.Context) {
		if sid != "" {
			hctx.SetHeader("X-Session-ID", sid)
		}
	}
	if j == nil {
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			header(hctx)
			_, w := humago.Unwrap(hctx)
			w.WriteHeader(http.StatusNoContent)
		}}, nil
	}
	return s.followJournal(j, 0, header), nil
}
