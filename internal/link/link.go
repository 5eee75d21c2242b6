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
	// ID identifies the link for good: the store assigns it at insert and
	// never reuses it. Click rollups and edits key on it, not on the code.
	ID   int64
	Code Code
	// Domain is the id of the domain the link is on: DefaultDomain, or a
	// Domain's ID. Aliases are unique per domain.
	Domain    int64
	URL       string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never expires
	Owner     int64     // id of the API key that created it; 0 when anonymous
	// UserID is the account that owns the link: the user signed in, or
	// the user behind the key, that made it. 0: none (anonymous, or an
	// ownerless service key).
	UserID int64

	// Title, Tags and DisabledReason are for the people who manage
	// links; visitors never see them. Store.Get leaves out Tags and may
	// leave out the other two (the redirect never needs them, and the
	// cache does not keep them); Editor.Find and Lister fill all three.
	Title string
	Tags  []string // sorted

	// DisabledAt is when an administrator or the owner disabled the link;
	// zero: enabled. A disabled link answers 410 link_disabled and keeps
	// its code for good.
	DisabledAt     time.Time
	DisabledReason string
	// ValidFrom is when the link starts redirecting; zero: at once.
	ValidFrom time.Time
	// MaxVisits is how many redirects the link allows; 0: no limit.
	MaxVisits int64
	// PasswordHash is the PHC string of the password visitors must give;
	// empty: none.
	PasswordHash string
	// ForwardQuery appends the short link's query string to the
	// destination's.
	ForwardQuery bool
	// Rules send visitors who match a condition elsewhere; the first
	// match wins, else URL.
	Rules []Rule
	// ImportedClicks are the visits the link had counted at another
	// shortener before it was imported: BatchStore.InsertBatch starts the
	// link's click total at them, in the same transaction as the link.
	// Stores never read them back into a Link.
	ImportedClicks int64

	// Clicks is the link's clicks by people of all time, as a Lister
	// reads them for a listing ordered by clicks (ListQuery.ByClicks) or
	// asked for them (ListQuery.WithClicks); every other read leaves it 0.
	Clicks int64
}

// A Rule sends the visitors who match When to URL.
type Rule struct {
	When Condition `json:"when"`
	URL  string    `json:"url"`
}

// Condition is what a visitor must match; every field set must match.
type Condition struct {
	Device   string `json:"device,omitempty"`   // ios, android or desktop
	Country  string `json:"country,omitempty"`  // ISO 3166-1 alpha-2, upper case
	Language string `json:"language,omitempty"` // ISO 639-1, lower case
}

// ForRedirect returns l without what only its managers read: what
// Store.Get may leave out.
func (l Link) ForRedirect() Link {
	l.Title, l.Tags, l.DisabledReason = "", nil, ""
	return l
}

// Plain reports whether l redirects with no option to apply: the common
// case, which the redirect path and the cache keep cheapest.
func (l *Link) Plain() bool {
	return l.DisabledAt.IsZero() && l.ValidFrom.IsZero() && l.MaxVisits == 0 && l.PasswordHash == "" &&
		!l.ForwardQuery && len(l.Rules) == 0
}

// Expired reports whether l has expired at now.
func (l Link) Expired(now time.Time) bool {
	return !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt)
}

// Store persists links.
//
// Insert stores a new link, ignoring l.ID, and returns the id it assigned;
// it returns ErrCodeTaken if the code has ever been
// used, deleted links included, so that no code is ever reissued.
// Get returns ErrNotFound for a code that was never stored or was deleted.
// Delete removes the link but keeps its code reserved; it returns ErrNotFound
// if there is no live link with that code.
// Any error that means the engine cannot be reached wraps ErrUnavailable.
type Store interface {
	Insert(ctx context.Context, l Link) (int64, error)
	Get(ctx context.Context, c Code) (Link, error)
	Delete(ctx context.Context, c Code) error
}

// Lister pages through live links, newest first.
type Lister interface {
	// List returns up to q.Limit live links ordered by CreatedAt then Code,
	// both descending, that come strictly after q.After when it is set.
	// q.Owner zero lists every owner's links. With q.ByClicks the order
	// starts with the links' clicks by people of all time (a link never
	// clicked counts 0), q.After's Clicks takes part in "after", and each
	// link's Clicks is filled.
	List(ctx context.Context, q ListQuery) ([]Link, error)
}

// ListQuery selects a page of links for Lister. Every filter set must
// match.
type ListQuery struct {
	Owner  int64 // the API key that made the links; 0: any
	UserID int64 // the user who owns the links; 0: any
	After  *Cursor
	Limit  int
	// Oldest lists oldest first: CreatedAt then Code ascending, after
	// q.After in that order.
	Oldest bool
	// ByClicks lists the most clicked first: Clicks, then CreatedAt, then
	// Code, all descending (all ascending with Oldest: the least clicked
	// first). It reads every link the other filters select before the
	// first row comes back, so it suits a person's links better than a
	// whole billion-link table.
	ByClicks bool
	// WithClicks fills each link's Clicks, as ByClicks does, without
	// changing the order.
	WithClicks bool
	Tag        string // links carrying this tag
	// Search matches links whose code, title or URL contains it, ignoring
	// case (on SQLite, the case of ASCII letters only).
	Search string
	// DestinationHost matches links whose destination host is it or a
	// subdomain of it; lower case, as NormalizeURL writes hosts.
	DestinationHost string
	// OnDomain selects the links on short domain Domain (a Domain's ID,
	// or DefaultDomain) only; false: links on every domain.
	OnDomain bool
	Domain   int64
}

// Editor changes stored links, and reads what only the people who manage
// them need.
//
// Find returns the live link for c with everything stored about it, tags
// included, or ErrNotFound.
// Update runs edit on the live link for c and stores what it leaves, all
// within one transaction, so that concurrent edits apply one after the
// other; it returns the link before and after. An error from edit is
// returned as it is, and nothing is stored. ID, Code, CreatedAt and Owner
// never change. A missing code is ErrNotFound.
// Tags counts the live links per tag among those q selects (its Owner and
// UserID only), ordered by tag.
// LinksTo returns the live, enabled links whose destination host is one of
// hosts or under one of them.
// Any error that means the engine cannot be reached wraps ErrUnavailable.
type Editor interface {
	Find(ctx context.Context, c Code) (Link, error)
	Update(ctx context.Context, c Code, edit func(*Link) error) (before, after Link, err error)
	Tags(ctx context.Context, q ListQuery) ([]TagCount, error)
	LinksTo(ctx context.Context, hosts []string) ([]Link, error)
}

// TagCount is a tag and how many links carry it.
type TagCount struct {
	Tag   string
	Links int64
}

// Cursor marks a position in an order of links: by creation, or by
// clicks when ByClicks is set.
type Cursor struct {
	CreatedAt time.Time
	Code      Code
	ByClicks  bool
	Clicks    int64 // with ByClicks: the clicks of the link at the position
}

// String encodes c as an opaque token for clients to hand back.
func (c Cursor) String() string {
	raw := strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + ":" + string(c.Code)
	if c.ByClicks {
		raw += ":" + strconv.FormatInt(c.Clicks, 10)
	}
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
	if !ok {
		return Cursor{}, bad
	}
	var c Cursor
	code, clicks, byClicks := strings.Cut(code, ":")
	if byClicks {
		n, err := strconv.ParseInt(clicks, 10, 64)
		if err != nil || n < 0 {
			return Cursor{}, bad
		}
		c.ByClicks, c.Clicks = true, n
	}
	c.Code = Code(code)
	if !ValidCode(c.Code) {
		return Cursor{}, bad
	}
	us, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Cursor{}, bad
	}
	c.CreatedAt = time.UnixMicro(us).UTC()
	return c, nil
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
	// Domain is the host of the short domain to make the link on; empty:
	// the default domain.
	Domain string
	// Options are the link's other settings, applied as an edit would
	// apply them; their URL and ExpiresAt are not used. nil: none.
	Options *Patch
}
