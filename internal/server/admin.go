package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/interp-dev/interp/internal/store"
)

// The /v1/admin operations: users, keys and the audit log, for users with
// the admin role. Others get 403 (the routes exist for everyone; the role
// is what they lack). Admins see no other user's sessions or history.

// requireAdmin refuses a non-admin, recording the attempt.
func (s *Server) requireAdmin(ctx context.Context, op string) error {
	if userFrom(ctx).IsAdmin() {
		return nil
	}
	s.audit(ctx, &store.AuditEntry{Action: store.AuditAdminDenied, Target: op, Result: store.ResultDenied})
	return huma.Error403Forbidden("this operation is for admins: your user has the user role")
}

// AdminUser is a user with what they use now.
type AdminUser struct {
	store.User
	Usage AdminUsage `json:"usage"`
	Keys  int        `json:"keys" doc:"Active API keys."`
}

// AdminUsage is what a user uses of their quotas now.
type AdminUsage struct {
	Sessions       int   `json:"sessions" doc:"Sessions open."`
	TokensToday    int64 `json:"tokens_today" doc:"Model tokens used today (UTC)."`
	WorkspaceBytes int64 `json:"workspace_bytes" doc:"Bytes of files in their sessions' workspaces."`
}

// AdminUserList lists users, by name.
type AdminUserList struct {
	Users []AdminUser `json:"users"`
}

type adminUserListOutput struct {
	Body AdminUserList
}

// CreateUserBody makes a user.
type CreateUserBody struct {
	Name string `json:"name" minLength:"1" maxLength:"64" doc:"A unique name: letters, digits and . _ @ + -."`
	Role string `json:"role,omitempty" enum:"user,admin" default:"user" doc:"user (the default) or admin."`
}

type createUserInput struct {
	Body CreateUserBody
}

type adminUserOutput struct {
	Body *store.User
}

// CreateKeyBody makes an API key.
type CreateKeyBody struct {
	Name string `json:"name,omitempty" maxLength:"200" doc:"A name for the key, to tell keys apart."`
}

type createKeyInput struct {
	User string `path:"user" maxLength:"64" doc:"A user's ID or name."`
	Body *CreateKeyBody
}

// NewKey is a new API key: the key itself is shown this once.
type NewKey struct {
	Key string `json:"key" doc:"The API key. Only its hash is kept: it cannot be shown again."`
	store.APIKey
}

type newKeyOutput struct {
	Body NewKey
}

type listKeysInput struct {
	User string `query:"user" maxLength:"64" doc:"Only this user's keys (ID or name)."`
}

// KeyList lists API keys, oldest first, revoked ones included.
type KeyList struct {
	Keys []store.APIKey `json:"keys"`
}

type keyListOutput struct {
	Body KeyList
}

type keyIDInput struct {
	ID string `path:"id" maxLength:"64" doc:"A key's ID or its prefix."`
}

type keyOutput struct {
	Body store.APIKey
}

type auditInput struct {
	User   string    `query:"user" maxLength:"64" doc:"Only entries of this user (ID or name)."`
	Action string    `query:"action" maxLength:"64" doc:"Only entries of this action, such as auth.failure."`
	Since  time.Time `query:"since" doc:"Only entries at or after this time (RFC 3339)."`
	Until  time.Time `query:"until" doc:"Only entries before this time (RFC 3339)."`
	Limit  int       `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"How many entries."`
	Offset int       `query:"offset" minimum:"0" maximum:"1000000" doc:"How many to skip."`
}

// AuditLog is entries of the audit log, the newest first.
type AuditLog struct {
	Entries []store.AuditEntry `json:"entries"`
}

type auditOutput struct {
	Body AuditLog
}

func (s *Server) registerAdmin() {
	api := s.api
	adminErrs := []int{http.StatusUnauthorized, http.StatusForbidden}
	op := func(id, method, path, summary string, more ...int) huma.Operation {
		o := s.op(id, method, path, summary, "admin", adminErrs, more...)
		o.Description = "For admins only: others get 403."
		return o
	}
	huma.Register(api, op("admin-list-users", http.MethodGet, "/v1/admin/users", "List users, with their usage"), s.adminListUsers)
	cu := op("admin-create-user", http.MethodPost, "/v1/admin/users", "Create a user", http.StatusConflict, http.StatusUnprocessableEntity)
	cu.DefaultStatus = http.StatusCreated
	huma.Register(api, cu, s.adminCreateUser)
	ck := op("admin-create-key", http.MethodPost, "/v1/admin/users/{user}/keys", "Make an API key for a user: it is shown only once", http.StatusNotFound)
	ck.DefaultStatus = http.StatusCreated
	huma.Register(api, ck, s.adminCreateKey)
	huma.Register(api, op("admin-list-keys", http.MethodGet, "/v1/admin/keys", "List API keys, revoked ones included", http.StatusNotFound), s.adminListKeys)
	huma.Register(api, op("admin-revoke-key", http.MethodDelete, "/v1/admin/keys/{id}", "Revoke an API key: it stops working at once",
		http.StatusNotFound, http.StatusConflict), s.adminRevokeKey)
	huma.Register(api, op("admin-revoke-web-sessions", http.MethodDelete, "/v1/admin/users/{user}/web-sessions",
		"Sign a user's browsers out: every web UI session of theirs ends at once", http.StatusNotFound), s.adminRevokeWebSessions)
	huma.Register(api, op("admin-audit", http.MethodGet, "/v1/admin/audit", "Read the audit log, the newest first"), s.adminAudit)
}

func (s *Server) adminListUsers(ctx context.Context, _ *struct{}) (*adminUserListOutput, error) {
	if err := s.requireAdmin(ctx, "list users"); err != nil {
		return nil, err
	}
	st := s.d.Store
	users, err := st.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := st.ListAPIKeys(ctx, "")
	if err != nil {
		return nil, err
	}
	active := map[string]int{}
	for _, k := range keys {
		if !k.Revoked() {
			active[k.UserID]++
		}
	}
	day := store.Day(s.now())
	out := &adminUserListOutput{Body: AdminUserList{Users: []AdminUser{}}}
	for _, u := range users {
		tokens, err := st.TokenUsage(ctx, u.ID, day)
		if err != nil {
			return nil, err
		}
		out.Body.Users = append(out.Body.Users, AdminUser{User: u, Keys: active[u.ID], Usage: AdminUsage{
			Sessions: len(s.userSessions(&u)), TokensToday: tokens, WorkspaceBytes: s.workspaceUsage(&u),
		}})
	}
	s.auditOK(ctx, store.AuditAdminRead, "users", "")
	return out, nil
}

func (s *Server) adminCreateUser(ctx context.Context, in *createUserInput) (*adminUserOutput, error) {
	if err := s.requireAdmin(ctx, "create user"); err != nil {
		return nil, err
	}
	role := in.Body.Role
	if role == "" {
		role = store.RoleUser
	}
	u, err := s.d.Store.CreateUserWithRole(ctx, in.Body.Name, role)
	switch {
	case errors.Is(err, store.ErrExists):
		return nil, huma.Error409Conflict(fmt.Sprintf("user %q exists already", in.Body.Name))
	case err != nil:
		// A name or role the store refuses.
		return nil, huma.Error422UnprocessableEntity(err.Error())
	}
	s.auditOK(ctx, store.AuditUserCreate, u.ID, "name "+u.Name+", role "+u.Role)
	return &adminUserOutput{Body: u}, nil
}

func (s *Server) adminCreateKey(ctx context.Context, in *createKeyInput) (*newKeyOutput, error) {
	if err := s.requireAdmin(ctx, "create key"); err != nil {
		return nil, err
	}
	name := ""
	if in.Body != nil {
		name = in.Body.Name
	}
	key, k, err := s.d.Store.CreateAPIKey(ctx, in.User, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, huma.Error404NotFound(fmt.Sprintf("no user %q", in.User))
	case err != nil:
		return nil, err
	}
	s.auditOK(ctx, store.AuditKeyCreate, k.ID, "key "+k.Prefix+"... for "+k.UserName+" ("+k.UserID+")")
	return &newKeyOutput{Body: NewKey{Key: key, APIKey: *k}}, nil
}

func (s *Server) adminListKeys(ctx context.Context, in *listKeysInput) (*keyListOutput, error) {
	if err := s.requireAdmin(ctx, "list keys"); err != nil {
		return nil, err
	}
	keys, err := s.d.Store.ListAPIKeys(ctx, in.User)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, huma.Error404NotFound(fmt.Sprintf("no user %q", in.User))
	case err != nil:
		return nil, err
	}
	if keys == nil {
		keys = []store.APIKey{}
	}
	s.auditOK(ctx, store.AuditAdminRead, "keys", in.User)
	return &keyListOutput{Body: KeyList{Keys: keys}}, nil
}

func (s *Server) adminRevokeKey(ctx context.Context, in *keyIDInput) (*keyOutput, error) {
	if err := s.requireAdmin(ctx, "revoke key"); err != nil {
		return nil, err
	}
	k, err := s.d.Store.RevokeAPIKey(ctx, in.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, huma.Error404NotFound(fmt.Sprintf("no key %q", in.ID))
	case errors.Is(err, store.ErrAmbiguous):
		return nil, huma.Error409Conflict(err.Error())
	case errors.Is(err, store.ErrLastAdminKey):
		return nil, huma.Error409Conflict(store.ErrLastAdminKey.Error())
	case err != nil:
		return nil, err
	}
	s.auditOK(ctx, store.AuditKeyRevoke, k.ID, "key "+k.Prefix+"... of "+k.UserName+" ("+k.UserID+")")
	return &keyOutput{Body: *k}, nil
}

func (s *Server) adminAudit(ctx context.Context, in *auditInput) (*auditOutput, error) {
	if err := s.requireAdmin(ctx, "read audit log"); err != nil {
		return nil, err
	}
	entries, err := s.d.Store.AuditLog(ctx, store.AuditFilter{
		User: in.User, Action: in.Action, Since: in.Since, Until: in.Until, Limit: in.Limit, Offset: in.Offset,
	})
	if err != nil {
		return nil, err
	}
	return &auditOutput{Body: AuditLog{Entries: entries}}, nil
}

type userInput struct {
	User string `path:"user" maxLength:"64" doc:"A user's ID or name."`
}

// RevokedWebSessions says how many browser sessions were ended.
type RevokedWebSessions struct {
	Revoked int64 `json:"revoked" doc:"How many browser sessions ended."`
}

type revokedWebSessionsOutput struct {
	Body RevokedWebSessions
}

func (s *Server) adminRevokeWebSessions(ctx context.Context, in *userInput) (*revokedWebSessionsOutput, error) {
	if err := s.requireAdmin(ctx, "revoke web sessions"); err != nil {
		return nil, err
	}
	n, err := s.d.Store.RevokeWebSessions(ctx, in.User)
	if errors.Is(err, store.ErrNotFound) {
		return nil, huma.Error404NotFound(fmt.Sprintf("no user %q", in.User))
	}
	if err != nil {
		return nil, err
	}
	s.auditOK(ctx, "web_session.revoke", in.User, fmt.Sprintf("%d browser sessions", n))
	return &revokedWebSessionsOutput{Body: RevokedWebSessions{Revoked: n}}, nil
}
