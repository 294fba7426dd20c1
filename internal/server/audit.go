package server

import (
	"context"

	"github.com/interp-dev/interp/internal/store"
)

// apiKeyFrom returns the key a /v1 request authenticated with.
func apiKeyFrom(ctx context.Context) *store.APIKey {
	k, _ := ctx.Value(apiKeyKey).(*store.APIKey)
	return k
}

// audit writes an entry to the audit log, filling in the request's user,
// key and address where the entry has none. A failure to write is logged
// and counted, not returned: the action itself already happened or was
// refused.
func (s *Server) audit(ctx context.Context, e *store.AuditEntry) {
	if u := userFrom(ctx); u != nil && e.UserID == "" {
		e.UserID, e.UserName = u.ID, u.Name
	}
	if k := apiKeyFrom(ctx); k != nil && e.KeyID == "" {
		e.KeyID, e.KeyPrefix = k.ID, k.Prefix
	}
	if info, ok := ctx.Value(infoKey).(*requestInfo); ok && e.IP == "" {
		e.IP = info.ip
	}
	if err := s.d.Store.Audit(context.WithoutCancel(ctx), e); err != nil {
		s.metrics.errors.WithLabelValues("audit").Inc()
		s.log.Error("audit", "action", e.Action, "err", err)
	}
}

// auditOK records a successful action on target.
func (s *Server) auditOK(ctx context.Context, action, target, detail string) {
	s.audit(ctx, &store.AuditEntry{Action: action, Target: target, Detail: detail})
}

// quotaRefused records a request a quota refused, and returns err.
func (s *Server) quotaRefused(ctx context.Context, target string, err error) error {
	s.audit(ctx, &store.AuditEntry{Action: store.AuditQuotaExceeded, Target: target, Detail: err.Error(), Result: store.ResultDenied})
	return err
}
