package cache

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/shortlinks/shortlinks/internal/link"
)

var (
	_ link.DomainLinks  = (*Store)(nil)
	_ link.DomainEditor = (*Store)(nil)
)

var errNoDomains = errors.New("cache: the store below keeps the default domain's links only")

// Links on the default domain are cached under their code, as before
// domains existed, so that their lookups cost what they did; a link on
// another domain is cached under "ID/code" (no code has a "/"), in process,
// in Redis and in invalidation messages alike. Negative entries are kept
// per domain the same way.

// domainKey is the key of code c on domain d.
func domainKey(d int64, c link.Code) link.Code {
	if d == link.DefaultDomain {
		return c
	}
	return link.Code(strconv.FormatInt(d, 10) + "/" + string(c))
}

// splitKey returns the domain and code that key k names.
func splitKey(k link.Code) (int64, link.Code) {
	i := strings.IndexByte(string(k), '/')
	if i < 0 {
		return link.DefaultDomain, k
	}
	d, err := strconv.ParseInt(string(k[:i]), 10, 64)
	if err != nil {
		return link.DefaultDomain, k
	}
	return d, k[i+1:]
}

func (s *Store) getOn(ctx context.Context, d int64, c link.Code) (link.Link, error) {
	next, ok := s.next.(link.DomainLinks)
	if !ok {
		return link.Link{}, errNoDomains
	}
	return next.GetOn(ctx, d, c)
}

// GetOn is Get for code c on domain d: the same tiers, keyed by domain.
func (s *Store) GetOn(ctx context.Context, d int64, c link.Code) (link.Link, error) {
	if d == link.DefaultDomain {
		return s.Get(ctx, c)
	}
	if strings.IndexByte(string(c), '/') >= 0 {
		return link.Link{}, link.ErrNotFound
	}
	l, err := s.Get(ctx, domainKey(d, c))
	if err != nil {
		return link.Link{}, err
	}
	l.Code, l.Domain = c, d
	return l, nil
}

// DeleteOn is Delete for code c on domain d.
func (s *Store) DeleteOn(ctx context.Context, d int64, c link.Code) error {
	if d == link.DefaultDomain {
		return s.Delete(ctx, c)
	}
	next, ok := s.next.(link.DomainLinks)
	if !ok {
		return errNoDomains
	}
	return s.forget(ctx, domainKey(d, c), next.DeleteOn(ctx, d, c))
}

// FindOn reads code c on domain d whole from the next tier.
func (s *Store) FindOn(ctx context.Context, d int64, c link.Code) (link.Link, error) {
	ed, ok := s.editor.(link.DomainEditor)
	if !ok {
		return link.Link{}, errNoEditor
	}
	return ed.FindOn(ctx, d, c)
}

// UpdateOn is Update for code c on domain d.
func (s *Store) UpdateOn(ctx context.Context, d int64, c link.Code, edit func(*link.Link) error) (before, after link.Link, err error) {
	if d == link.DefaultDomain {
		return s.Update(ctx, c, edit)
	}
	ed, ok := s.editor.(link.DomainEditor)
	if !ok {
		return link.Link{}, link.Link{}, errNoEditor
	}
	before, after, err = ed.UpdateOn(ctx, d, c, edit)
	s.edited(ctx, domainKey(d, c), after, err)
	return before, after, err
}
