package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// AuditLog reads the audit log; *audit.Log is one.
type AuditLog interface {
	List(ctx context.Context, f audit.Filter, p audit.Page) ([]audit.Entry, audit.Page, error)
}

// AuditEntryJSON is an audit log entry as the API shows it. Actor ids are
// null for an operator at the server itself.
type AuditEntryJSON struct {
	ID          int64          `json:"id"`
	At          time.Time      `json:"at"`
	ActorUserID *int64         `json:"actor_user_id"`
	ActorKeyID  *int64         `json:"actor_key_id"`
	Action      string         `json:"action"`
	TargetType  string         `json:"target_type"`
	TargetID    string         `json:"target_id"`
	Detail      map[string]any `json:"detail,omitempty"`
}

// AuditList is a page of the audit log, newest first; NextBefore, when
// not null, is the before= of the next page.
type AuditList struct {
	Entries    []AuditEntryJSON `json:"entries"`
	NextBefore *int64           `json:"next_before"`
}

func optID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// ListAudit serves GET /api/v1/audit to admin keys: the audit log, newest
// first, a page at a time, optionally of one action (or family, "key.")
// or one target.
func (s *Server) ListAudit(w http.ResponseWriter, r *http.Request) {
	if _, err := s.requireAdmin(r); err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if s.audit == nil {
		s.errs.Fail(w, r, edge.ErrNoRoute)
		return
	}
	q := r.URL.Query()
	var p audit.Page
	var err error
	if p.Limit, err = intParam(q.Get("limit"), "limit", 1, audit.MaxLimit); err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	before, err := intParam(q.Get("before"), "before", 1, 1<<62)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	p.Before = int64(before)
	f := audit.Filter{Action: audit.Action(q.Get("action")), TargetType: q.Get("target_type"), TargetID: q.Get("target_id")}
	if f.TargetID != "" && f.TargetType == "" {
		s.errs.Fail(w, r, &link.Error{Kind: link.Invalid, Code: "invalid_filter", Field: "target_id",
			Message: "target_id needs target_type too."})
		return
	}
	entries, next, err := s.audit.List(r.Context(), f, p)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	out := AuditList{Entries: make([]AuditEntryJSON, 0, len(entries))}
	for _, e := range entries {
		out.Entries = append(out.Entries, AuditEntryJSON{
			ID: e.ID, At: e.At, ActorUserID: optID(e.ActorUserID), ActorKeyID: optID(e.ActorKeyID),
			Action: string(e.Action), TargetType: e.TargetType, TargetID: e.TargetID, Detail: e.Detail,
		})
	}
	if next.Limit != 0 {
		out.NextBefore = &next.Before
	}
	edge.WriteJSON(w, http.StatusOK, out)
}

// intParam reads an optional whole-number query parameter within lo..hi;
// empty is 0.
func intParam(v, name string, lo, hi int) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, &link.Error{Kind: link.Invalid, Code: "invalid_" + name, Field: name,
			Message: fmt.Sprintf("%s must be a whole number from %d to %d.", name, lo, hi)}
	}
	return n, nil
}
