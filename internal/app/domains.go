package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/link"
)

// Domains returns the short domains kept in this storage, the base URL's
// host first, read once; changes are recorded in the audit log.
func (s *Storage) Domains(ctx context.Context, log *slog.Logger) (*link.Domains, error) {
	auditLog := s.Audit(log)
	d := link.NewDomains(s.Engine, s.cfg.BaseURL, func(action string, dom link.Domain, by link.Principal) {
		// The change stands if the entry cannot be stored; the audit log
		// writes it to the error log instead.
		_ = auditLog.Record(ctx, audit.Entry{ActorUserID: by.UserID, ActorKeyID: by.KeyID, Action: audit.Action(action),
			TargetType: "domain", TargetID: strconv.FormatInt(dom.ID, 10),
			Detail: map[string]any{"host": dom.Host, "restricted": dom.Restricted}})
	})
	if err := d.Reload(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// userDomains returns the function that tells which restricted domains a
// user was given, or nil on an engine that keeps no users.
func (s *Storage) userDomains() func(ctx context.Context, id int64) ([]string, error) {
	e, err := s.accountEngine()
	if err != nil {
		return nil
	}
	return func(ctx context.Context, id int64) ([]string, error) {
		u, _, err := e.UserByID(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("user %d: %w", id, err)
		}
		return u.Domains, nil
	}
}

// DeleteOn is Delete for a link on any domain.
func (a auditedLinks) DeleteOn(ctx context.Context, d int64, c link.Code, by link.Principal) error {
	if d == link.DefaultDomain {
		return a.Delete(ctx, c, by)
	}
	if !by.Admin {
		return a.Service.DeleteOn(ctx, d, c, by)
	}
	l, err := a.Service.GetOn(ctx, d, c, by)
	if err != nil {
		return err
	}
	if err := a.Service.DeleteOn(ctx, d, c, by); err != nil {
		return err
	}
	if l.Owner != by.KeyID {
		detail := map[string]any{"url": l.URL, "domain": a.Service.Domains().Host(d)}
		if l.Owner != 0 {
			detail["owner_key_id"] = l.Owner
		}
		_ = a.audit.Link(ctx, audit.Actor{UserID: by.UserID, KeyID: by.KeyID}, audit.LinkDelete, string(c), detail)
	}
	return nil
}
