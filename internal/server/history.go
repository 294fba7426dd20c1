package server

import (
	"bytes"
	"context"
	"errors"
	"mime"
	"net/http"
	"path"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/interp-dev/interp/internal/export"
	"github.com/interp-dev/interp/internal/store"
)

type listConversationsInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"How many to list."`
	Offset int    `query:"offset" minimum:"0" doc:"How many to skip."`
	Query  string `query:"q" maxLength:"200" doc:"Only the conversations whose title, task prompts, answers or code contain this text, ignoring the case of ASCII letters."`
}

// ConversationList lists conversations, the most recently updated first.
type ConversationList struct {
	Conversations []store.ConversationSummary `json:"conversations"`
}

type conversationListOutput struct {
	Body ConversationList
}

type conversationIDInput struct {
	ID string `path:"id" maxLength:"64" doc:"A conversation ID."`
}

type conversationOutput struct {
	Body *store.Conversation
}

type exportInput struct {
	ID     string `path:"id" maxLength:"64" doc:"A conversation ID."`
	Format string `query:"format" enum:"ipynb,py,md,json" default:"ipynb" doc:"ipynb: a Jupyter notebook; py: a percent-format script; md: Markdown; json: everything recorded."`
}

type exportOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	CSP                string `header:"Content-Security-Policy"`
	Body               []byte
}

// exportTypes are the media types of the export formats.
var exportTypes = map[string]string{
	export.IPynb:    "application/x-ipynb+json",
	export.Python:   "text/x-python; charset=utf-8",
	export.Markdown: "text/markdown; charset=utf-8",
	export.JSON:     "application/json",
}

// ownConversation checks that the conversation is the user's.
func (s *Server) ownConversation(ctx context.Context, id string) error {
	owner, _, err := s.d.Store.ConversationUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && owner != userFrom(ctx).ID) {
		return errNoConversation(id)
	}
	return err
}

func (s *Server) listConversations(ctx context.Context, in *listConversationsInput) (*conversationListOutput, error) {
	list, err := s.d.Store.SearchUserConversations(ctx, userFrom(ctx).ID, in.Query, in.Limit, in.Offset)
	if err != nil {
		return nil, err
	}
	return &conversationListOutput{Body: ConversationList{Conversations: list}}, nil
}

// loadConversation reads one of the caller's conversations whole, which
// may take longer than an ordinary request.
func (s *Server) loadConversation(ctx context.Context, id string) (*store.Conversation, error) {
	if err := s.ownConversation(ctx, id); err != nil {
		return nil, err
	}
	longRequest(ctx, s.cfg.WriteTimeout+time.Minute)
	c, err := s.d.Store.GetConversation(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoConversation(id)
	}
	return c, err
}

func (s *Server) getConversation(ctx context.Context, in *conversationIDInput) (*conversationOutput, error) {
	c, err := s.loadConversation(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &conversationOutput{Body: c}, nil
}

func (s *Server) exportConversation(ctx context.Context, in *exportInput) (*exportOutput, error) {
	c, err := s.loadConversation(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	format := in.Format
	if format == "" {
		format = export.IPynb
	}
	var b bytes.Buffer
	if err := export.Write(&b, c, format, nil); err != nil {
		return nil, huma.Error422UnprocessableEntity(err.Error())
	}
	return &exportOutput{
		ContentType:        exportTypes[format],
		ContentDisposition: `attachment; filename="` + in.ID + export.Extension(format) + `"`,
		CSP:                sandboxCSP,
		Body:               b.Bytes(),
	}, nil
}

// RenameBody is a conversation's new title.
type RenameBody struct {
	Title string `json:"title" minLength:"1" maxLength:"200" doc:"The new title."`
}

type renameInput struct {
	ID   string `path:"id" maxLength:"64" doc:"A conversation ID."`
	Body RenameBody
}

func (s *Server) renameConversation(ctx context.Context, in *renameInput) (*struct{}, error) {
	if err := s.ownConversation(ctx, in.ID); err != nil {
		return nil, err
	}
	if err := s.d.Store.SetTitle(ctx, in.ID, in.Body.Title); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNoConversation(in.ID)
		}
		return nil, err
	}
	return nil, nil
}

func (s *Server) deleteConversation(ctx context.Context, in *conversationIDInput) (*struct{}, error) {
	if err := s.ownConversation(ctx, in.ID); err != nil {
		return nil, err
	}
	err := s.d.Store.DeleteConversation(ctx, in.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errNoConversation(in.ID)
	case errors.Is(err, store.ErrRunning):
		return nil, huma.Error409Conflict("the conversation has code or a task running: wait for it to end")
	case err != nil:
		return nil, err
	}
	return nil, nil
}

// Me describes the caller and their quotas.
type Me struct {
	User   *store.User `json:"user"`
	Quotas QuotaInfo   `json:"quotas" doc:"The user's limits; -1 means none."`
	Usage  UsageInfo   `json:"usage"`
	Model  *ModelInfo  `json:"model,omitempty" doc:"The language model tasks run with; absent when none is configured."`
}

// ModelInfo names a language model.
type ModelInfo struct {
	Provider string `json:"provider"`
	Model    string `json:"model"`
}

// QuotaInfo is a user's limits.
type QuotaInfo struct {
	Sessions            int   `json:"sessions"`
	ExecutionsPerMinute int   `json:"executions_per_minute"`
	TokensPerDay        int64 `json:"tokens_per_day"`
	WorkspaceBytes      int64 `json:"workspace_bytes" doc:"Bytes of files in all your sessions' workspaces together."`
}

// UsageInfo is what a user uses of their quotas now.
type UsageInfo struct {
	Sessions             int   `json:"sessions" doc:"Sessions open."`
	ExecutionsLastMinute int   `json:"executions_last_minute"`
	TokensToday          int64 `json:"tokens_today" doc:"Model tokens used today (UTC)."`
	WorkspaceBytes       int64 `json:"workspace_bytes" doc:"Bytes of files in your sessions' workspaces."`
}

type meOutput struct {
	Body Me
}

func (s *Server) me(ctx context.Context, _ *struct{}) (*meOutput, error) {
	u := userFrom(ctx)
	tokens, err := s.d.Store.TokenUsage(ctx, u.ID, store.Day(s.now()))
	if err != nil {
		return nil, err
	}
	q := s.cfg.Quotas
	var model *ModelInfo
	if s.d.LLM != nil {
		if m, err := s.d.LLM(ctx); err == nil {
			model = &ModelInfo{Provider: m.Name, Model: m.Model}
		}
	}
	return &meOutput{Body: Me{Model: model,
		User:   u,
		Quotas: QuotaInfo{Sessions: max(q.Sessions, -1), ExecutionsPerMinute: max(q.ExecutionsPerMinute, -1), TokensPerDay: max(q.TokensPerDay, -1), WorkspaceBytes: max(q.WorkspaceBytes, -1)},
		Usage: UsageInfo{Sessions: len(s.userSessions(u)), ExecutionsLastMinute: s.execs.used(u.ID), TokensToday: tokens,
			WorkspaceBytes: s.workspaceUsage(u)},
	}}, nil
}

// RecordedFileList lists the files a conversation's code created, changed or
// deleted, in order; a path may come more than once.
type RecordedFileList struct {
	Files []store.File `json:"files"`
}

type recordedFileListOutput struct {
	Body RecordedFileList
}

func (s *Server) listConversationFiles(ctx context.Context, in *conversationIDInput) (*recordedFileListOutput, error) {
	if err := s.ownConversation(ctx, in.ID); err != nil {
		return nil, err
	}
	files, err := s.d.Store.Files(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &recordedFileListOutput{Body: RecordedFileList{Files: files}}, nil
}

type conversationFileInput struct {
	ID   string `path:"id" maxLength:"64" doc:"A conversation ID."`
	Path string `query:"path" required:"true" maxLength:"4096" doc:"A file's path, relative to the workspace, as the conversation's files list it."`
}

func (s *Server) getConversationFile(ctx context.Context, in *conversationFileInput) (*huma.StreamResponse, error) {
	if err := s.ownConversation(ctx, in.ID); err != nil {
		return nil, err
	}
	_, data, err := s.d.Store.FileContent(ctx, in.ID, in.Path)
	if errors.Is(err, store.ErrNotFound) {
		return nil, huma.Error404NotFound(err.Error())
	}
	if err != nil {
		return nil, err
	}
	ct := mime.TypeByExtension(path.Ext(in.Path))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		hctx.SetHeader("Content-Type", ct)
		hctx.SetHeader("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(in.Path)}))
		hctx.SetHeader("Content-Security-Policy", sandboxCSP) // made in a sandbox: never a page of this origin
		hctx.SetHeader("Content-Length", strconv.Itoa(len(data)))
		hctx.SetStatus(http.StatusOK)
		_, _ = hctx.BodyWriter().Write(data)
	}}, nil
}
