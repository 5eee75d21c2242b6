package link

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

var errNoDomains = errors.New("link: this store keeps links on the default domain only")

// Domains returns the service's domains; nil when it has none but the
// default one.
func (s *Service) Domains() *Domains { return s.domains }

// domainFor returns the id of the domain host names for a link p makes:
// "" is the default domain. An unknown host is ErrDomainNotFound, a
// restricted one that p was not given ErrDomainForbidden.
func (s *Service) domainFor(ctx context.Context, host string, p Principal) (int64, error) {
	if host == "" {
		return DefaultDomain, nil
	}
	if s.domains == nil {
		return 0, ErrDomainNotFound
	}
	dom, err := s.domains.Named(host)
	if err != nil || dom.ID == DefaultDomain {
		return DefaultDomain, err
	}
	if dom.Restricted && !p.Admin {
		var given []string
		if p.UserID != 0 && s.userDomains != nil {
			if given, err = s.userDomains(ctx, p.UserID); err != nil {
				return 0, fmt.Errorf("domains of user %d: %w", p.UserID, err)
			}
		}
		if !MayUse(dom, p, given) {
			return 0, ErrDomainForbidden
		}
	}
	if s.onDomains == nil {
		return 0, errNoDomains
	}
	return dom.ID, nil
}

// ResolveOn is Resolve for the link with code c on domain d: the redirect
// path of every domain. On DefaultDomain it is Resolve.
func (s *Service) ResolveOn(ctx context.Context, d int64, c Code) (Link, error) {
	if !ValidCode(c) {
		return Link{}, ErrNotFound
	}
	var l Link
	var err error
	switch {
	case d == DefaultDomain:
		l, err = s.store.Get(ctx, c)
	case s.onDomains != nil:
		l, err = s.onDomains.GetOn(ctx, d, c)
	default:
		return Link{}, ErrNotFound
	}
	if err != nil {
		return Link{}, err
	}
	if err := s.live(&l); err != nil {
		return Link{}, err
	}
	return l, nil
}

// GetOn is Get for the link with code c on domain d.
func (s *Service) GetOn(ctx context.Context, d int64, c Code, p Principal) (Link, error) {
	if d == DefaultDomain {
		return s.Get(ctx, c, p)
	}
	if !ValidCode(c) || s.onDomains == nil {
		return Link{}, ErrNotFound
	}
	var l Link
	var err error
	if s.editDomains != nil {
		l, err = s.editDomains.FindOn(ctx, d, c)
	} else {
		l, err = s.onDomains.GetOn(ctx, d, c)
	}
	if err != nil {
		return Link{}, err
	}
	if !visible(l, p) {
		return Link{}, ErrNotFound
	}
	return l, nil
}

// DeleteOn is Delete for the link with code c on domain d.
func (s *Service) DeleteOn(ctx context.Context, d int64, c Code, p Principal) error {
	if d == DefaultDomain {
		return s.Delete(ctx, c, p)
	}
	if _, err := s.GetOn(ctx, d, c, p); err != nil {
		return err
	}
	if err := s.onDomains.DeleteOn(ctx, d, c); err != nil {
		return fmt.Errorf("delete %s on domain %d: %w", c, d, err)
	}
	return nil
}

// UpdateOn is Update for the link with code c on domain d.
func (s *Service) UpdateOn(ctx context.Context, d int64, c Code, p Patch, pr Principal) (Link, error) {
	if d == DefaultDomain {
		return s.Update(ctx, c, p, pr)
	}
	if s.editDomains == nil || !ValidCode(c) {
		return Link{}, ErrNotFound
	}
	return s.update(ctx, c, p, pr, func(edit func(*Link) error) (Link, Link, error) {
		return s.editDomains.UpdateOn(ctx, d, c, edit)
	})
}

// updateLink runs edit on the link l names, wherever it is.
func (s *Service) updateLink(ctx context.Context, l Link, edit func(*Link) error) (before, after Link, err error) {
	if l.Domain != DefaultDomain && s.editDomains != nil {
		return s.editDomains.UpdateOn(ctx, l.Domain, l.Code, edit)
	}
	return s.editor.Update(ctx, l.Code, edit)
}

// onOwnDomain reports whether u, as NormalizeURL writes it, points at one
// of the branded domains (URLRules.SelfHosts covers the default one).
func (s *Service) onOwnDomain(u string) bool {
	if s.domains == nil || !s.domains.Branded() {
		return false
	}
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return false
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	dom, ok := s.domains.Lookup(RequestHost(rest))
	return ok && dom.ID != DefaultDomain
}
