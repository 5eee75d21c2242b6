package link

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultDomain is the id of the default domain, the base URL's host. It
// always exists, is not stored, and is the domain of every link created
// without naming one.
const DefaultDomain int64 = 0

// A Domain is a short domain that links live on. Custom aliases are unique
// per domain; generated codes are unique across all of them.
type Domain struct {
	ID   int64
	Host string // lower-case ASCII, no port, no trailing dot
	// RootRedirect is where the domain's root, "/", sends visitors; empty:
	// the 404 page (the default domain shows the shortening page).
	RootRedirect string
	// NotFoundRedirect is where a code unknown on the domain sends
	// visitors; empty: the 404 page.
	NotFoundRedirect string
	// Restricted domains take new links only from admins and from the
	// members given the domain (their account's domains); any member may
	// use a domain that is not restricted.
	Restricted bool
	CreatedAt  time.Time
}

// DomainStore keeps the domains besides the default one.
//
// InsertDomain stores d, ignoring d.ID, and returns the id it assigned;
// a host already stored is ErrDomainTaken. DeleteDomain removes the domain
// with id; it returns ErrDomainNotFound if there is none and
// ErrDomainInUse while live links are on it. Domains lists them all, by
// host. Any error that means the engine cannot be reached wraps
// ErrUnavailable.
type DomainStore interface {
	InsertDomain(ctx context.Context, d Domain) (int64, error)
	Domains(ctx context.Context) ([]Domain, error)
	DeleteDomain(ctx context.Context, id int64) error
}

// DomainCounter counts links by short domain. DomainLinkCounts returns
// the number of live links on each branded domain that has any, by id;
// the default domain, which holds most links, is not counted.
type DomainCounter interface {
	DomainLinkCounts(ctx context.Context) (map[int64]int64, error)
}

// DomainLinks reads and removes links on any domain; a Store's own Get and
// Delete act on the default domain, as GetOn and DeleteOn with
// DefaultDomain do. Errors are as Store's.
type DomainLinks interface {
	GetOn(ctx context.Context, domain int64, c Code) (Link, error)
	DeleteOn(ctx context.Context, domain int64, c Code) error
}

// DomainEditor edits links on any domain; an Editor's own Find and Update
// act on the default domain. Errors are as Editor's.
type DomainEditor interface {
	FindOn(ctx context.Context, domain int64, c Code) (Link, error)
	UpdateOn(ctx context.Context, domain int64, c Code, edit func(*Link) error) (before, after Link, err error)
}

// Errors about domains.
var (
	ErrDomainNotFound = &Error{Kind: NotFound, Code: "domain_not_found", Field: "domain",
		Message: "No domain has that host; an administrator adds domains with POST /api/v1/domains."}
	ErrDomainTaken = &Error{Kind: Conflict, Code: "domain_taken", Field: "host", Message: "That domain has already been added."}
	ErrDomainInUse = &Error{Kind: Conflict, Code: "domain_in_use", Field: "host",
		Message: "Live links are on that domain; delete them before removing it."}
	ErrDomainForbidden = &Error{Kind: Forbidden, Code: "domain_forbidden", Field: "domain",
		Message: "That domain is restricted: only administrators and the members they give it to may make links on it."}
	errAdminOnly = &Error{Kind: Forbidden, Code: "admin_required", Message: "Only administrators manage domains."}
)

// RequestHost returns the domain name in a request's Host (or
// X-Forwarded-Host) value as domains are stored: without its port or a
// trailing dot, in lower case. It allocates only when h has upper-case
// letters.
func RequestHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// domainSet is one snapshot of the domains, swapped whole on reload.
type domainSet struct {
	list   []Domain // by host, the default domain first
	byHost map[string]Domain
	byID   map[int64]Domain
}

// Domains knows every domain: the default one, from the base URL, and
// those stored. Requests read an in-memory snapshot; Reload, called after
// each change made here, brings in changes other instances made. Those
// instances say so (OnChange, Changed), and Run reloads at once; it also
// reloads every DomainReloadEvery, in case such a message was lost.
type Domains struct {
	store DomainStore
	def   Domain
	set   atomic.Pointer[domainSet]
	now   func() time.Time
	// edited, when set, is told of each domain added or removed, and by
	// whom, for the audit log.
	edited func(action string, d Domain, by Principal)
	// announce, when set, tells the other instances after each change
	// made here.
	announce func(ctx context.Context)
	// poke wakes Run to reload now: another instance changed the domains.
	poke  chan struct{}
	every time.Duration
}

// DomainReloadEvery is how often Run reads the domains again by default:
// the longest an instance takes to serve a domain another instance added
// when the message saying so is lost.
const DomainReloadEvery = 15 * time.Second

// NewDomains returns the domains of a deployment whose base URL is
// baseURL, keeping the others in store (nil: the default domain only).
// edited may be nil.
func NewDomains(store DomainStore, baseURL string, edited func(action string, d Domain, by Principal)) *Domains {
	host := ""
	if u, err := url.Parse(baseURL); err == nil {
		host = RequestHost(u.Host)
	}
	d := &Domains{store: store, def: Domain{ID: DefaultDomain, Host: host}, now: time.Now, edited: edited,
		poke: make(chan struct{}, 1), every: DomainReloadEvery}
	d.swap(nil)
	return d
}

// OnChange makes announce be called after each domain added or removed
// through d, to tell the other instances (whose Changed it should call);
// call it before serving. announce must not block for long: it runs on
// the request that made the change.
func (d *Domains) OnChange(announce func(ctx context.Context)) { d.announce = announce }

// Changed tells d that another instance added or removed a domain, or
// that such news may have been missed: Run reloads at once. It never
// blocks.
func (d *Domains) Changed() {
	select {
	case d.poke <- struct{}{}:
	default: // a reload is due already
	}
}

// SetReloadEvery sets how often Run reloads without being told to
// (DomainReloadEvery by default); call it before Run.
func (d *Domains) SetReloadEvery(every time.Duration) {
	if every > 0 {
		d.every = every
	}
}

// changed tells the other instances of a change made here.
func (d *Domains) changed(ctx context.Context) {
	if d.announce != nil {
		d.announce(ctx)
	}
}

func (d *Domains) swap(stored []Domain) {
	s := &domainSet{byHost: make(map[string]Domain, len(stored)+1), byID: make(map[int64]Domain, len(stored)+1)}
	s.list = append(s.list, d.def)
	s.list = append(s.list, stored...)
	for _, dom := range s.list {
		s.byHost[dom.Host] = dom
		s.byID[dom.ID] = dom
	}
	d.set.Store(s)
}

// Reload reads the stored domains again.
func (d *Domains) Reload(ctx context.Context) error {
	if d.store == nil {
		return nil
	}
	stored, err := d.store.Domains(ctx)
	if err != nil {
		return fmt.Errorf("domains: %w", err)
	}
	stored = slices.DeleteFunc(stored, func(x Domain) bool { return x.Host == d.def.Host })
	d.swap(stored)
	return nil
}

// Run reloads the domains when Changed says to, and every reload
// interval (SetReloadEvery), until ctx ends. A failed reload keeps the
// domains known and is tried again next time.
func (d *Domains) Run(ctx context.Context) error {
	t := time.NewTicker(d.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.poke:
		}
		d.Reload(ctx)
	}
}

// Default returns the default domain.
func (d *Domains) Default() Domain { return d.def }

// Branded reports whether there is any domain besides the default one.
// While there is none, every request is for the default domain, whatever
// its Host, as before domains existed.
func (d *Domains) Branded() bool { return len(d.set.Load().list) > 1 }

// Lookup returns the domain whose host is host, which must be in
// RequestHost's form.
func (d *Domains) Lookup(host string) (Domain, bool) {
	if host == d.def.Host {
		return d.def, true
	}
	dom, ok := d.set.Load().byHost[host]
	return dom, ok
}

// ByID returns the domain with id.
func (d *Domains) ByID(id int64) (Domain, bool) {
	if id == DefaultDomain {
		return d.def, true
	}
	dom, ok := d.set.Load().byID[id]
	return dom, ok
}

// Host returns the host of the domain with id, or the default domain's
// for an id that is not (or no longer) known.
func (d *Domains) Host(id int64) string {
	if dom, ok := d.ByID(id); ok {
		return dom.Host
	}
	return d.def.Host
}

// List returns every domain, the default one first.
func (d *Domains) List() []Domain { return slices.Clone(d.set.Load().list) }

// Hosts returns the host of every domain, the default one first: the
// hosts that links must not point back to.
func (d *Domains) Hosts() []string {
	list := d.set.Load().list
	out := make([]string, len(list))
	for i, dom := range list {
		out[i] = dom.Host
	}
	return out
}

// Named returns the domain that host names, for a link or a filter: ""
// is the default domain. An unknown host is ErrDomainNotFound.
func (d *Domains) Named(host string) (Domain, error) {
	if host == "" {
		return d.def, nil
	}
	c, err := CanonicalHost(strings.TrimSuffix(strings.TrimSpace(host), "."))
	if err != nil {
		return Domain{}, ErrDomainNotFound
	}
	dom, ok := d.Lookup(strings.TrimSuffix(c, "."))
	if !ok {
		return Domain{}, ErrDomainNotFound
	}
	return dom, nil
}

// MayUse reports whether p may make links on dom: anyone may use a domain
// that is not restricted; a restricted one takes links from admins and
// from users whose own domains (userDomains) include it.
func MayUse(dom Domain, p Principal, userDomains []string) bool {
	return !dom.Restricted || p.Admin || slices.Contains(userDomains, dom.Host)
}

// NewDomain is what an administrator gives to add a domain.
type NewDomain struct {
	Host             string
	RootRedirect     string
	NotFoundRedirect string
	Restricted       bool
}

// Add stores a new domain; only admins may. The host must be a domain
// name (not an address, not the default domain's); the redirects, when
// given, absolute http or https URLs.
func (d *Domains) Add(ctx context.Context, p Principal, nd NewDomain) (Domain, error) {
	if !p.Admin {
		return Domain{}, errAdminOnly
	}
	if d.store == nil {
		return Domain{}, errors.New("domains: no store")
	}
	host, err := domainHostName(nd.Host)
	if err != nil {
		return Domain{}, err
	}
	if host == d.def.Host {
		return Domain{}, ErrDomainTaken
	}
	dom := Domain{Host: host, Restricted: nd.Restricted, CreatedAt: d.now().UTC().Truncate(time.Microsecond)}
	if dom.RootRedirect, err = fallbackURL(nd.RootRedirect, "root_redirect"); err != nil {
		return Domain{}, err
	}
	if dom.NotFoundRedirect, err = fallbackURL(nd.NotFoundRedirect, "not_found_redirect"); err != nil {
		return Domain{}, err
	}
	if dom.ID, err = d.store.InsertDomain(ctx, dom); err != nil {
		return Domain{}, fmt.Errorf("add domain %s: %w", host, err)
	}
	if d.edited != nil {
		d.edited("domain.create", dom, p)
	}
	err = d.Reload(ctx)
	d.changed(ctx)
	return dom, err
}

// Remove deletes the domain whose host is host; only admins may, and only
// once no live link is on it. The default domain cannot be removed.
func (d *Domains) Remove(ctx context.Context, p Principal, host string) error {
	if !p.Admin {
		return errAdminOnly
	}
	if err := d.Reload(ctx); err != nil {
		return err
	}
	dom, err := d.Named(host)
	if err != nil {
		return err
	}
	if dom.ID == DefaultDomain {
		return &Error{Kind: Conflict, Code: "default_domain", Field: "host",
			Message: "The default domain is the base URL's host; it cannot be removed."}
	}
	if err := d.store.DeleteDomain(ctx, dom.ID); err != nil {
		return fmt.Errorf("remove domain %s: %w", dom.Host, err)
	}
	if d.edited != nil {
		d.edited("domain.delete", dom, p)
	}
	err = d.Reload(ctx)
	d.changed(ctx)
	return err
}

// domainHostName checks that s is a domain name and returns it as stored.
func domainHostName(s string) (string, error) {
	bad := invalid("host", "invalid_host", "host must be a domain name, like go.example.com, without scheme, port or path.")
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	if s == "" || strings.ContainsAny(s, ":/[]@?# ") {
		return "", bad
	}
	h, err := parseHost(s)
	if err != nil || h.kind != domainHost || !strings.Contains(h.name, ".") && h.name != "localhost" {
		return "", bad
	}
	return strings.TrimSuffix(h.name, "."), nil
}

// fallbackURL checks a domain's fallback: empty, or an absolute http(s)
// URL.
func fallbackURL(s, field string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > 2048 {
		return "", invalid(field, "invalid_"+field, field+" must be an absolute http or https URL.")
	}
	return s, nil
}
