package link

import (
	"context"
	"errors"
	"fmt"
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
	reserved []string
	now      func() time.Time
}

// NewService returns a Service that keeps links in store, lists them with
// lister and draws new codes from codes.
func NewService(store Store, lister Lister, codes Generator, opts Options) *Service {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Service{
		store: store, lister: lister, codes: codes,
		urls: NewNormalizer(opts.URLRules), screen: opts.Screen, created: opts.AfterCreate,
		reserved: opts.Reserved, now: now,
	}
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
	u, err := s.urls.Normalize(p.URL)
	if err != nil {
		return Link{}, err
	}
	if s.screen != nil {
		if reason, blocked := s.screen.Blocked(u); blocked {
			return Link{}, invalid("url", "url_blocked", "This URL cannot be shortened: "+reason+".")
		}
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	exp, err := expiry(p, now)
	if err != nil {
		return Link{}, err
	}
	l := Link{URL: u, CreatedAt: now, ExpiresAt: exp, Owner: p.Owner.KeyID}

	if p.Alias != "" {
		if err := ValidateAlias(p.Alias, s.reserved); err != nil {
			return Link{}, err
		}
		l.Code = p.Alias
		if err := s.store.Insert(ctx, l); err != nil {
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
		err = s.store.Insert(ctx, l)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, ErrCodeTaken) {
			return Link{}, fmt.Errorf("create %s: %w", c, err)
		}
	}
	return Link{}, errors.New("create: no free code after 1000 tries")
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

// Resolve returns the live link for c: the redirect path. It returns
// ErrNotFound for unknown or deleted codes and ErrExpired after expiry.
func (s *Service) Resolve(ctx context.Context, c Code) (Link, error) {
	if !ValidCode(c) {
		return Link{}, ErrNotFound
	}
	l, err := s.store.Get(ctx, c)
	if err != nil {
		return Link{}, err
	}
	// Most links never expire; skip reading the clock for them.
	if !l.ExpiresAt.IsZero() && l.Expired(s.now()) {
		return Link{}, ErrExpired
	}
	return l, nil
}

// Get returns the link for c as its owner sees it, expired or not. A link
// that p may not see is reported as ErrNotFound, so that its existence does
// not leak.
func (s *Service) Get(ctx context.Context, c Code, p Principal) (Link, error) {
	if !ValidCode(c) {
		return Link{}, ErrNotFound
	}
	l, err := s.store.Get(ctx, c)
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
	switch {
	case limit == 0:
		limit = DefaultPageSize
	case limit < 0 || limit > MaxPageSize:
		return Page{}, invalid("limit", "invalid_limit", fmt.Sprintf("limit must be between 1 and %d.", MaxPageSize))
	}
	q := ListQuery{Owner: p.KeyID, After: after, Limit: limit + 1}
	switch {
	case p.Admin:
		q.Owner = 0
	case p.KeyID == 0:
		// Owner zero would list everyone's links. A user's own links are
		// listed by user once links record their user.
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
		page.Next = &Cursor{CreatedAt: last.CreatedAt, Code: last.Code}
	}
	page.Links = links
	return page, nil
}

func visible(l Link, p Principal) bool {
	// A user's own links are matched by user once links record their user;
	// until then only the key that made a link sees it.
	return p.Admin || (p.KeyID != 0 && l.Owner == p.KeyID)
}
