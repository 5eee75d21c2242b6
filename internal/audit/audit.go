// Package audit records who did what to which object, for administrators to
// read back: disabling and deleting links, making and revoking keys,
// resolving reports, managing users. Every package that acts on behalf of
// someone records through it, so it imports nothing else from this module.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Action names what was done. The names are stable: they are stored, shown
// and filtered on.
type Action string

// The actions recorded.
const (
	LinkDisable   Action = "link.disable"
	LinkEnable    Action = "link.enable"
	LinkDelete    Action = "link.delete"
	KeyCreate     Action = "key.create"
	KeyRevoke     Action = "key.revoke"
	ReportResolve Action = "report.resolve"
	UserCreate    Action = "user.create"
	UserDisable   Action = "user.disable"
	UserEnable    Action = "user.enable"
	UserRole      Action = "user.role"
	UserPassword  Action = "user.password" // reset by an administrator, or changed by the user
	UserDomains   Action = "user.domains"
	UserSignOut   Action = "user.signout" // every session of the user ended
)

// The kinds of object an entry's target is.
const (
	TargetLink   = "link"
	TargetKey    = "api_key"
	TargetUser   = "user"
	TargetReport = "report"
)

// Entry is one recorded action. An entry with neither ActorUserID nor
// ActorKeyID was made by an operator on the server itself (the command
// line, or start-up from the environment).
type Entry struct {
	ID          int64 // set by the store
	At          time.Time
	ActorUserID int64 // the user who acted; 0: none
	ActorKeyID  int64 // the API key they acted with; 0: none
	Action      Action
	TargetType  string         // one of the Target constants
	TargetID    string         // the target's id, as text
	Detail      map[string]any // what a reader needs beyond the action: a reason, old and new values; no secrets
}

// MaxDetail bounds an entry's Detail, encoded as JSON.
const MaxDetail = 8 << 10

// Filter selects entries; zero fields select everything.
type Filter struct {
	ActorUserID int64
	ActorKeyID  int64
	Action      Action // exact, or a prefix ending in '.' ("user.") for a family
	TargetType  string
	TargetID    string    // only with TargetType
	Since       time.Time // inclusive
	Until       time.Time // exclusive
}

// Page bounds a listing: entries older than Before (an entry id; 0: from
// the newest), at most Limit of them.
type Page struct {
	Before int64
	Limit  int
}

// Page sizes for List.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Store keeps entries.
//
// AppendAudit stores e, whose Detail is already checked to encode as JSON
// within MaxDetail, and returns its id; ids grow with each entry.
// ListAudit returns the entries f selects with ids below p.Before (when not
// zero), newest (highest id) first, at most p.Limit of them.
type Store interface {
	AppendAudit(ctx context.Context, e Entry) (int64, error)
	ListAudit(ctx context.Context, f Filter, p Page) ([]Entry, error)
}

// Log records entries in a Store.
type Log struct {
	store Store
	now   func() time.Time
	log   *slog.Logger
}

// New returns a Log over store. now nil means time.Now. log receives the
// entries that could not be stored; nil discards them (Record still
// returns the error).
func New(store Store, now func() time.Time, log *slog.Logger) *Log {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Log{store: store, now: now, log: log}
}

// Record stores e, stamped with the current time when e.At is zero. If the
// store fails, the entry is written to the log at error level, so that it
// is not lost, and the error is returned.
func (l *Log) Record(ctx context.Context, e Entry) error {
	if e.At.IsZero() {
		e.At = l.now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	if e.Action == "" || e.TargetType == "" {
		return errors.New("audit: an entry needs an action and a target type")
	}
	if e.Detail != nil {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return fmt.Errorf("audit: detail of %s: %w", e.Action, err)
		}
		if len(b) > MaxDetail {
			return fmt.Errorf("audit: detail of %s is %d bytes, more than %d", e.Action, len(b), MaxDetail)
		}
	}
	if _, err := l.store.AppendAudit(ctx, e); err != nil {
		l.log.ErrorContext(ctx, "audit entry not stored",
			"action", string(e.Action), "at", e.At, "actor_user_id", e.ActorUserID, "actor_key_id", e.ActorKeyID,
			"target_type", e.TargetType, "target_id", e.TargetID, "detail", e.Detail, "err", err)
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	return nil
}

// List returns a page of the entries f selects, newest first, and the
// Page that continues after it (Limit zero when there is no more).
func (l *Log) List(ctx context.Context, f Filter, p Page) ([]Entry, Page, error) {
	switch {
	case p.Limit == 0:
		p.Limit = DefaultLimit
	case p.Limit < 0 || p.Limit > MaxLimit:
		return nil, Page{}, fmt.Errorf("audit: limit %d is outside 1–%d", p.Limit, MaxLimit)
	}
	if f.TargetID != "" && f.TargetType == "" {
		return nil, Page{}, errors.New("audit: a target id needs a target type")
	}
	if strings.HasSuffix(string(f.Action), ".") && strings.Count(string(f.Action), ".") != 1 {
		return nil, Page{}, fmt.Errorf("audit: %q is not an action family", f.Action)
	}
	entries, err := l.store.ListAudit(ctx, f, Page{Before: p.Before, Limit: p.Limit + 1})
	if err != nil {
		return nil, Page{}, fmt.Errorf("audit: list: %w", err)
	}
	var next Page
	if len(entries) > p.Limit {
		entries = entries[:p.Limit]
		next = Page{Before: entries[p.Limit-1].ID, Limit: p.Limit}
	}
	return entries, next, nil
}

// Actor is who acted: a user, the API key they acted with, either or
// both; neither is an operator at the server itself.
type Actor struct {
	UserID int64
	KeyID  int64
}

// Link records action a by by on the link with code, as Record does: the
// one call for code that changes links on someone's behalf (disable,
// enable, delete of another's link). detail holds what a reader needs
// beyond the action, such as {"reason": "phishing"}, and no secrets.
func (l *Log) Link(ctx context.Context, by Actor, a Action, code string, detail map[string]any) error {
	return l.Record(ctx, Entry{
		ActorUserID: by.UserID, ActorKeyID: by.KeyID, Action: a,
		TargetType: TargetLink, TargetID: code, Detail: detail,
	})
}
