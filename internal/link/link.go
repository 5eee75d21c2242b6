// Package link defines short links and the rules for creating, resolving and
// deleting them. It holds the storage contract that every engine implements
// and imports nothing else from this module.
package link

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Code is the path part of a short link: a generated code or a custom alias.
// Codes are case-sensitive.
type Code string

// A Link maps a short Code to a destination URL.
type Link struct {
	Code      Code
	URL       string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never expires
	Owner     int64     // id of the API key that created it; 0 when anonymous
}

// Expired reports whether l has expired at now.
func (l Link) Expired(now time.Time) bool {
	return !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt)
}

// Store persists links.
//
// Insert stores a new link and returns ErrCodeTaken if the code has ever been
// used, deleted links included, so that no code is ever reissued.
// Get returns ErrNotFound for a code that was never stored or was deleted.
// Delete removes the link but keeps its code reserved; it returns ErrNotFound
// if there is no live link with that code.
// Any error that means the engine cannot be reached wraps ErrUnavailable.
type Store interface {
	Insert(ctx context.Context, l Link) error
	Get(ctx context.Context, c Code) (Link, error)
	Delete(ctx context.Context, c Code) error
}

// Lister pages through live links, newest first.
type Lister interface {
	// List returns up to q.Limit live links ordered by CreatedAt then Code,
	// both descending, that come strictly after q.After when it is set.
	// q.Owner zero lists every owner's links.
	List(ctx context.Context, q ListQuery) ([]Link, error)
}

// ListQuery selects a page of links for Lister.
type ListQuery struct {
	Owner int64
	After *Cursor
	Limit int
}

// Cursor marks a position in the newest-first order of links.
type Cursor struct {
	CreatedAt time.Time
	Code      Code
}

// String encodes c as an opaque token for clients to hand back.
func (c Cursor) String() string {
	raw := strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + ":" + string(c.Code)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ParseCursor decodes a token made by Cursor.String.
func ParseCursor(s string) (Cursor, error) {
	bad := invalid("cursor", "invalid_cursor", "The cursor is not one this server handed out; start again without it.")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	ts, code, ok := strings.Cut(string(raw), ":")
	if !ok || !ValidCode(Code(code)) {
		return Cursor{}, bad
	}
	us, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Cursor{}, bad
	}
	return Cursor{CreatedAt: time.UnixMicro(us).UTC(), Code: Code(code)}, nil
}

// Generator makes codes for links created without an alias. Each call
// returns a code never returned before.
type Generator interface {
	Next(ctx context.Context) (Code, error)
}

// Principal is who makes a request: an API key, a signed-in user, a user's
// API key, or nobody. Admin is the power the request acts with, never more
// than the user's role: an admin service key, an admin user signed in, or an
// admin user's key that carries the admin scope.
type Principal struct {
	KeyID  int64  // the API key presented; 0: none
	UserID int64  // the user behind the key or the session; 0: none, or an ownerless service key
	Admin  bool   // sees and manages everything
	Scopes Scopes // what the request may do; see Can
}

// Anonymous reports whether nobody is identified: no API key and no user.
func (p Principal) Anonymous() bool { return p.KeyID == 0 && p.UserID == 0 }

// Can reports whether p holds every scope in s.
func (p Principal) Can(s Scopes) bool { return p.Scopes.Has(s) }

// CreateParams is what a client asks for when it creates a link.
type CreateParams struct {
	URL       string
	Alias     Code          // empty: generate a code
	ExpiresAt time.Time     // zero: see ExpiresIn
	ExpiresIn time.Duration // zero: never expires, unless ExpiresAt is set
	Owner     Principal
}
