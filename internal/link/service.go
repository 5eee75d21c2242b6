package link

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// maxExpiry is the latest expiry accepted: far enough for any real use and
// inside every engine's timestamp range.
var maxExpiry = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Default and largest page sizes for listing.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Options configure a Service.
type Options struct {
	URLRules URLRules
	Reserved []string         // aliases that would shadow the server's own paths
	Now      func() time.Time // time.Now when nil
	// Screen, when set, is asked about every destination before it is
	// stored; a blocked one is refused as url_blocked.
	Screen Screen
	// AfterCreate, when set, is called with each link once it is stored,
	// for checks that take time, such as a Safe Browsing lookup. It runs on
	// the create path, so it must return at once: hand the link to a queue.
	AfterCreate func(Link)
	// Editor edits links and reads them whole; without one, Update,
	// DisableTo and Tags fail and Get reads through the Store.
	Editor Editor
	// AfterEdit, when set, is called after each edit with the link before
	// and after and who made it (the zero Principal: the service itself,
	// as when a blocklist disables links), for the audit log. It runs on
	// the request path and must return quickly.
	AfterEdit func(before, after Link, by Principal)
	// Loader stores CreateBatch's links in one transaction; nil: one
	// at a time.
	Loader *Loader
	// HashPassword hashes link passwords; without it, links cannot have
	// one.
	HashPassword func(ctx context.Context, secret string) (string, error)
	// VerifyPassword reports whether secret matches a hash HashPassword
	// made; without it, no password is ever right.
	VerifyPassword func(ctx context.Context, hash, secret string) (bool, error)
	// Visits counts the redirects of links with a visit limit; without
	// it, such links cannot redirect.
	Visits Visitor
	// Domains are the short domains links may be made on; nil: the
	// default domain only.
	Domains *Domains
	// UserDomains returns the restricted domains a user was given (their
	// account's domains), asked only when a member names a restricted
	// domain; nil: none.
	UserDomains func(ctx context.Context, userID int64) ([]string, error)
}

// A Screen refuses destinations by policy, such as blocklists. Blocked gets
// the URL as NormalizeURL returns it, runs on every create and must answer
// from memory. reason says why, in words a person can act on; it is shown to
// the client ("evil.example is on the blocklist \"urlhaus\"").
type Screen interface {
	Blocked(url string) (reason string, blocked bool)
}

// Service applies the link rules on top of a Store.
type Service struct {
	store    Store
	lister   Lister
	codes    Generator
	urls     *Normalizer
	screen   Screen
	created  func(Link)
	editor   Editor
	loader   *Loader
	edited   func(before, after Link, by Principal)
	hash     func(ctx context.Context, secret string) (string, error)
	verify   func(ctx context.Context, hash, secret string) (bool, error)
	visits   Visitor
	reserved []string
	now      func() time.Time

	domains     *Domains
	userDomains func(ctx context.Context, userID int64) ([]string, error)
	onDomains   DomainLinks  // nil: the store knows the default domain only
	editDomains DomainEditor // nil: the editor knows the default domain only
}

// NewService returns a Service that keeps links in store, lists them with
// lister and draws new codes from codes.
func NewService(store Store, lister Lister, codes Generator, opts Options) *Service {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{
		store: store, lister: lister, codes: codes,
		urls: NewNormalizer(opts.URLRules), screen: opts.Screen, created: opts.AfterCreate,
		editor: opts.Editor, loader: opts.Loader, edited: opts.AfterEdit, hash: opts.HashPassword,
		verify: opts.VerifyPassword, visits: opts.Visits,
		reserved: opts.Reserved, now: now,
		domains: opts.Domains, userDomains: opts.UserDomains,
	}
	s.onDomains, _ = store.(DomainLinks)
	s.editDomains, _ = opts.Editor.(DomainEditor)
	return s
}

// Create validates p and stores a new link. Rule violations are *Error values
// of Kind Invalid (a destination the Screen blocks is url_blocked); an alias
// in use is ErrCodeTaken.
func (s *Service) Create(ctx context.Context, p CreateParams) (Link, error) {
	l, err := s.create(ctx, p)
	if err == nil && s.created != nil {
		s.created(l)
	}
	return l, err
}

func (s *Service) create(ctx context.Context, p CreateParams) (Link, error) {
	l, err := s.prepare(ctx, p)
	if err != nil {
		return Link{}, err
	}
	if l.Domain, err = s.domainFor(ctx, p.Domain, p.Owner); err != nil {
		return Link{}, err
	}

	if p.Alias != "" {
		if err := ValidateAlias(p.Alias, s.reserved); err != nil {
			return Link{}, err
		}
		l.Code = p.Alias
	}
	return s.insert(ctx, l)
}

// insert stores l under its code, or under a generated one when it has
// none.
func (s *Service) insert(ctx context.Context, l Link) (Link, error) {
	if l.Code != "" {
		var err error
		if l.ID, err = s.store.Insert(ctx, l); err != nil {
			return Link{}, fmt.Errorf("create alias %s: %w", l.Code, err)
		}
		return l, nil
	}

	// A generated code is fresh by construction, but an alias may already
	// hold it; such codes are skipped, never overwritten. Aliases can take
	// only a vanishing share of the code space, so the loop ends quickly.
	for range 1000 {
		c, err := s.codes.Next(ctx)
		if err != nil {
			return Link{}, fmt.Errorf("generate code: %w", err)
		}
		l.Code = c
		l.ID, err = s.store.Insert(ctx, l)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, ErrCodeTaken) {
			return Link{}, fmt.Errorf("create %s: %w", c, err)
		}
	}
	return Link{}, errors.New("create: no free code after 1000 tries")
}

// prepare checks p and returns the link it asks for, without a code unless
// p names an alias.
func (s *Service) prepare(ctx context.Context, p CreateParams) (Link, error) {
	u, err := s.destination(p.URL, "url")
	if err != nil {
		return Link{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	exp, err := expiry(p, now)
	if err != nil {
		return Link{}, err
	}
	l := Link{URL: u, CreatedAt: now, ExpiresAt: exp, Owner: p.Owner.KeyID, UserID: p.Owner.UserID}
	if p.Options == nil {
		return l, nil
	}
	opts := *p.Options
	opts.URL, opts.ExpiresAt = Field[string]{}, Field[time.Time]{}
	hash, err := s.hashPassword(ctx, opts.Password)
	if err != nil {
		return Link{}, err
	}
	if err := s.apply(&l, opts, hash, now); err != nil {
		return Link{}, err
	}
	return l, nil
}

func expiry(p CreateParams, now time.Time) (time.Time, error) {
	switch {
	case !p.ExpiresAt.IsZero() && p.ExpiresIn != 0:
		return time.Time{}, invalid("expires_at", "conflicting_expiry", "Give expires_at or expires_in, not both.")
	case p.ExpiresIn < 0:
		return time.Time{}, invalid("expires_in", "invalid_expiry", "expires_in must be a positive number of seconds.")
	case p.ExpiresIn > 0:
		if p.ExpiresIn > maxExpiry.Sub(now) {
			return time.Time{}, invalid("expires_in", "invalid_expiry", "The expiry is too far in the future.")
		}
		return now.Add(p.ExpiresIn), nil
	case p.ExpiresAt.IsZero():
		return time.Time{}, nil
	case !p.ExpiresAt.After(now):
		return time.Time{}, invalid("expires_at", "expiry_in_past", "The expiry time has already passed; give a time in the future.")
	case p.ExpiresAt.After(maxExpiry):
		return time.Time{}, invalid("expires_at", "invalid_expiry", "The expiry is too far in the future.")
	}
	return p.ExpiresAt.UTC().Truncate(time.Microsecond), nil
}

// Resolve returns the live link for c on the default domain (ResolveOn is
// the redirect path of every domain). It returns ErrNotFound for unknown
// or deleted codes, ErrDisabled for a disabled link, ErrNotYetValid before
// its ValidFrom, and ErrExpired after expiry.
func (s *Service) Resolve(ctx context.Context, c Code) (Link, error) {
	return s.ResolveOn(ctx, DefaultDomain, c)
}

// live reports why l may not be followed now: disabled, expired or not yet
// valid; nil if it may.
func (s *Service) live(l *Link) error {
	if !l.DisabledAt.IsZero() {
		return ErrDisabled
	}
	// Most links never expire and are valid from the start; skip reading
	// the clock for them.
	if !l.ExpiresAt.IsZero() || !l.ValidFrom.IsZero() {
		now := s.now()
		if l.Expired(now) {
			return ErrExpired
		}
		if !l.ValidFrom.IsZero() && now.Before(l.ValidFrom) {
			return ErrNotYetValid
		}
	}
	return nil
}

// Get returns the link for c as its owner sees it, expired or not. A link
// that p may not see is reported as ErrNotFound, so that its existence does
// not leak.
func (s *Service) Get(ctx context.Context, c Code, p Principal) (Link, error) {
	if !ValidCode(c) {
		return Link{}, ErrNotFound
	}
	var l Link
	var err error
	if s.editor != nil {
		l, err = s.editor.Find(ctx, c)
	} else {
		l, err = s.store.Get(ctx, c)
	}
	if err != nil {
		return Link{}, err
	}
	if !visible(l, p) {
		return Link{}, ErrNotFound
	}
	return l, nil
}

// Delete removes the link for c if p may see it. The code stays reserved.
func (s *Service) Delete(ctx context.Context, c Code, p Principal) error {
	if _, err := s.Get(ctx, c, p); err != nil {
		return err
	}
	if err := s.store.Delete(ctx, c); err != nil {
		return fmt.Errorf("delete %s: %w", c, err)
	}
	return nil
}

// Page is one page of a listing; Next is nil on the last page.
type Page struct {
	Links []Link
	Next  *Cursor
}

// List pages through the links p may see, newest first. limit zero means
// DefaultPageSize; after nil means from the newest.
func (s *Service) List(ctx context.Context, p Principal, after *Cursor, limit int) (Page, error) {
	return s.Search(ctx, p, ListQuery{After: after, Limit: limit})
}

// Search pages through the links p may see that q's filters select. Its
// Owner and UserID are set from p; Limit zero means DefaultPageSize.
func (s *Service) Search(ctx context.Context, p Principal, q ListQuery) (Page, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultPageSize
	case limit < 0 || limit > MaxPageSize:
		return Page{}, invalid("limit", "invalid_limit", fmt.Sprintf("limit must be between 1 and %d.", MaxPageSize))
	}
	if q.Tag != "" && !ValidTag(q.Tag) {
		return Page{}, invalid("tag", "invalid_tag", "That is not a tag: tags are lower case, without surrounding spaces.")
	}
	if q.DestinationHost != "" {
		d, err := CanonicalHost(q.DestinationHost)
		if err != nil || d == "" {
			return Page{}, invalid("destination_host", "invalid_destination_host", "destination_host must be a host name, like example.com.")
		}
		q.DestinationHost = strings.TrimSuffix(d, ".")
	}
	if q.After != nil && q.After.ByClicks != q.ByClicks {
		return Page{}, invalid("cursor", "invalid_cursor", "The cursor belongs to another sort order; start again without it.")
	}
	q.Limit = limit + 1
	if !scope(&q, p) {
		return Page{}, nil
	}
	links, err := s.lister.List(ctx, q)
	if err != nil {
		return Page{}, fmt.Errorf("list: %w", err)
	}
	var page Page
	if len(links) > limit {
		links = links[:limit]
		last := links[limit-1]
		page.Next = &Cursor{CreatedAt: last.CreatedAt, Code: last.Code, ByClicks: q.ByClicks, Clicks: last.Clicks}
	}
	page.Links = links
	return page, nil
}

// Tags returns the tags on the links p may see, with how many carry each.
func (s *Service) Tags(ctx context.Context, p Principal) ([]TagCount, error) {
	if s.editor == nil {
		return nil, errNoEditor
	}
	var q ListQuery
	if !scope(&q, p) {
		return nil, nil
	}
	tags, err := s.editor.Tags(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	return tags, nil
}

// scope narrows q to the links p may see; false: none.
func scope(q *ListQuery, p Principal) bool {
	q.Owner, q.UserID = 0, 0
	switch {
	case p.Admin:
	case p.UserID != 0:
		q.UserID = p.UserID
	case p.KeyID != 0:
		q.Owner = p.KeyID
	default:
		// Owner zero would list everyone's links.
		return false
	}
	return true
}

// visible reports whether p may see and manage l: an admin any link, a
// user the links they own (through any of their keys, or signed in), an
// ownerless key the links it made.
func visible(l Link, p Principal) bool {
	return p.Admin || (p.UserID != 0 && l.UserID == p.UserID) || (p.KeyID != 0 && l.Owner == p.KeyID)
}
