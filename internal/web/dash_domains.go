package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/link"
)

// DomainAdmin is what the dashboard does with short domains;
// *link.Domains is one. Add and Remove are for administrators and return
// *link.Error values for what the person can fix (a taken host, a domain
// that links are still on).
type DomainAdmin interface {
	List() []link.Domain
	Reload(ctx context.Context) error
	Named(host string) (link.Domain, error)
	Host(id int64) string
	Add(ctx context.Context, p link.Principal, nd link.NewDomain) (link.Domain, error)
	Remove(ctx context.Context, p link.Principal, host string) error
}

// domainRow is a short domain as the domains page shows it.
type domainRow struct {
	Host             string
	Default          bool
	RootRedirect     string
	NotFoundRedirect string
	Restricted       bool
	CreatedAt        time.Time
	Links            int64
	Counted          bool // Links was read (branded domains only)
	ListPath         string
	Slug             string // the host with "-" for ".", for element ids
}

// domainInputs maps a domain error's field to the input that shows it.
var domainInputs = map[string]string{
	"host": "host", "root_redirect": "root-redirect", "not_found_redirect": "not-found-redirect",
}

// usableDomains are the domains u may make links on, the default one
// first: every domain for an admin; for a member, those that are not
// restricted and the restricted ones their account was given.
func (d *Dashboard) usableDomains(u account.User) []link.Domain {
	if d.domains == nil {
		return nil
	}
	var out []link.Domain
	for _, dom := range d.domains.List() {
		if link.MayUse(dom, u.Principal(), u.Domains) {
			out = append(out, dom)
		}
	}
	return out
}

// domainChoices are the options of a form's domain select: the domains u
// may use, chosen marking the one selected (its host; "" is the default
// domain). Nil while the default domain is the only one, when forms show
// no select.
func (d *Dashboard) domainChoices(u account.User, chosen string) []option {
	doms := d.usableDomains(u)
	if len(doms) < 2 {
		return nil
	}
	out := make([]option, 0, len(doms))
	for _, dom := range doms {
		v := dom.Host
		if dom.ID == link.DefaultDomain {
			v = ""
		}
		out = append(out, option{Value: v, Label: dom.Host, Selected: v == chosen})
	}
	return out
}

// domainsData is the domains page: for an admin every domain with its
// links counted, for a member the domains they may use.
func (d *Dashboard) domainsData(r *http.Request, u account.User) (dashData, error) {
	dd := d.data(r, u, "Domains", "domains")
	if d.domains == nil {
		return dd, nil
	}
	if err := d.domains.Reload(r.Context()); err != nil {
		return dd, err
	}
	doms := d.domains.List()
	if !dd.Admin {
		doms = d.usableDomains(u)
	}
	var counts map[int64]int64
	if d.counts != nil && dd.Admin {
		var err error
		if counts, err = d.counts.DomainLinkCounts(r.Context()); err != nil {
			// The page is still of use without the counts.
			d.p.log.WarnContext(r.Context(), "counting links by domain", "err", err)
			counts = nil
		}
	}
	for _, dom := range doms {
		row := domainRow{Host: dom.Host, Default: dom.ID == link.DefaultDomain, RootRedirect: dom.RootRedirect,
			NotFoundRedirect: dom.NotFoundRedirect, Restricted: dom.Restricted, CreatedAt: dom.CreatedAt,
			ListPath: "/links?domain=" + url.QueryEscape(dom.Host), Slug: strings.ReplaceAll(dom.Host, ".", "-")}
		if counts != nil && !row.Default {
			row.Links, row.Counted = counts[dom.ID], true
		}
		dd.Domains = append(dd.Domains, row)
	}
	return dd, nil
}

// Domains lists the short domains: an admin sees them all, with their
// links counted, and forms to add and remove them; a member sees the ones
// they may make links on.
func (d *Dashboard) Domains(w http.ResponseWriter, r *http.Request) {
	u, ok := d.user(w, r)
	if !ok {
		return
	}
	dd, err := d.domainsData(r, u)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	d.render(w, r, "domains", http.StatusOK, dd)
}

// domainsError shows the domains page again with what went wrong: beside
// the add form's input at fault, or in the summary for a row's action.
func (d *Dashboard) domainsError(w http.ResponseWriter, r *http.Request, u account.User, err error, form map[string]string) {
	status, fe := d.problem(w, r, err, domainInputs)
	dd, lerr := d.domainsData(r, u)
	if lerr != nil {
		d.fail(w, r, lerr)
		return
	}
	if form != nil {
		dd.Form = form
	} else {
		fe.Input = ""
	}
	dd.Errors = []fieldError{fe}
	d.render(w, r, "domains", status, dd)
}

// CreateDomain adds a short domain, for administrators.
func (d *Dashboard) CreateDomain(w http.ResponseWriter, r *http.Request) {
	u, ok := d.admin(w, r)
	if !ok || !d.readForm(w, r) {
		return
	}
	if d.domains == nil {
		d.fail(w, r, errNoDomains)
		return
	}
	form := map[string]string{
		"host":               strings.TrimSpace(r.PostFormValue("host")),
		"root_redirect":      strings.TrimSpace(r.PostFormValue("root_redirect")),
		"not_found_redirect": strings.TrimSpace(r.PostFormValue("not_found_redirect")),
		"restricted":         r.PostFormValue("restricted"),
	}
	dom, err := d.domains.Add(r.Context(), u.Principal(), link.NewDomain{Host: form["host"], RootRedirect: form["root_redirect"],
		NotFoundRedirect: form["not_found_redirect"], Restricted: form["restricted"] != ""})
	if err != nil {
		d.domainsError(w, r, u, err, form)
		return
	}
	d.setFlash(r.Context(), "Added "+dom.Host+". Point its DNS at this deployment for its links to work.")
	seeOther(w, r, "/domains")
}

// RemoveDomain removes a short domain that no live link is on, for
// administrators; while links are on it, the page says so (domain_in_use).
func (d *Dashboard) RemoveDomain(w http.ResponseWriter, r *http.Request) {
	u, ok := d.admin(w, r)
	if !ok || !d.readForm(w, r) {
		return
	}
	if d.domains == nil {
		d.fail(w, r, errNoDomains)
		return
	}
	host := r.PathValue("host")
	if err := d.domains.Remove(r.Context(), u.Principal(), host); err != nil {
		if errors.Is(err, link.ErrDomainInUse) {
			err = &link.Error{Kind: link.Conflict, Code: link.ErrDomainInUse.Code, Field: "host",
				Message: "Live links are on " + host + "; delete them (see its links) before removing it."}
		}
		d.domainsError(w, r, u, err, nil)
		return
	}
	d.setFlash(r.Context(), "Removed "+host+".")
	seeOther(w, r, "/domains")
}

var errNoDomains = &link.Error{Kind: link.NotFound, Code: "domains_off", Message: "This server serves its default domain only."}

// domainParam is the domain a link page's ?domain= names: the default
// one when absent. A host that is none of the domains has no links:
// ErrNotFound.
func (d *Dashboard) domainParam(r *http.Request) (int64, error) {
	v := r.URL.Query().Get("domain")
	if v == "" {
		return link.DefaultDomain, nil
	}
	if d.domains == nil {
		return 0, link.ErrNotFound
	}
	dom, err := d.domains.Named(v)
	if err != nil {
		return 0, link.ErrNotFound
	}
	return dom.ID, nil
}

// domainQuery is the query that names domain id on the dashboard's link
// paths: none for the default domain.
func (d *Dashboard) domainQuery(id int64) string {
	if id == link.DefaultDomain || d.domains == nil {
		return ""
	}
	return "?domain=" + url.QueryEscape(d.domains.Host(id))
}

// linkPath is the dashboard's page of l.
func (d *Dashboard) linkPath(l link.Link) string {
	return "/links/" + url.PathEscape(string(l.Code)) + d.domainQuery(l.Domain)
}
