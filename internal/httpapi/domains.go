package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// DomainJSON is a short domain as the API shows it.
type DomainJSON struct {
	Host string `json:"host"`
	// Default is the base URL's host, which always exists.
	Default          bool       `json:"default"`
	RootRedirect     *string    `json:"root_redirect"`
	NotFoundRedirect *string    `json:"not_found_redirect"`
	Restricted       bool       `json:"restricted"`
	CreatedAt        *time.Time `json:"created_at"` // null for the default domain
}

// DomainList is every domain, the default one first.
type DomainList struct {
	Domains []DomainJSON `json:"domains"`
}

// CreateDomainRequest is the body of POST /api/v1/domains.
type CreateDomainRequest struct {
	Host             string `json:"host"`
	RootRedirect     string `json:"root_redirect,omitempty"`
	NotFoundRedirect string `json:"not_found_redirect,omitempty"`
	Restricted       bool   `json:"restricted,omitempty"`
}

var errNoDomains = &link.Error{Kind: link.NotFound, Code: "domains_off",
	Message: "This server serves its default domain only."}

func domainJSON(d link.Domain) DomainJSON {
	return DomainJSON{Host: d.Host, Default: d.ID == link.DefaultDomain, RootRedirect: optString(d.RootRedirect),
		NotFoundRedirect: optString(d.NotFoundRedirect), Restricted: d.Restricted, CreatedAt: optTime(d.CreatedAt)}
}

// CreateDomain serves POST /api/v1/domains to admins.
func (s *Server) CreateDomain(w http.ResponseWriter, r *http.Request) {
	who, err := s.requireAdmin(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if s.domains == nil {
		s.errs.Fail(w, r, errNoDomains)
		return
	}
	var req CreateDomainRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	d, err := s.domains.Add(r.Context(), who, link.NewDomain{Host: req.Host, RootRedirect: req.RootRedirect,
		NotFoundRedirect: req.NotFoundRedirect, Restricted: req.Restricted})
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	w.Header().Set("Location", s.base+"/api/v1/domains/"+url.PathEscape(d.Host))
	edge.WriteJSON(w, http.StatusCreated, domainJSON(d))
}

// ListDomains serves GET /api/v1/domains to anyone with a key: the domains
// links can be made on (restricted ones say so).
func (s *Server) ListDomains(w http.ResponseWriter, r *http.Request) {
	if _, err := s.requireKeyFor(r); err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	out := DomainList{Domains: []DomainJSON{}}
	if s.domains == nil {
		out.Domains = append(out.Domains, domainJSON(link.Domain{Host: link.RequestHost(s.baseHost())}))
	} else {
		if err := s.domains.Reload(r.Context()); err != nil {
			s.errs.Fail(w, r, err)
			return
		}
		for _, d := range s.domains.List() {
			out.Domains = append(out.Domains, domainJSON(d))
		}
	}
	edge.WriteJSON(w, http.StatusOK, out)
}

// DeleteDomain serves DELETE /api/v1/domains/{host} to admins; a domain
// that live links are on stays (409 domain_in_use).
func (s *Server) DeleteDomain(w http.ResponseWriter, r *http.Request) {
	who, err := s.requireAdmin(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if s.domains == nil {
		s.errs.Fail(w, r, errNoDomains)
		return
	}
	if err := s.domains.Remove(r.Context(), who, r.PathValue("host")); err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) baseHost() string {
	_, host, _ := strings.Cut(s.base, "://")
	return host
}

// domainHost is the host of the domain with id d.
func (s *Server) domainHost(d int64) string {
	if s.domains == nil {
		return link.RequestHost(s.baseHost())
	}
	return s.domains.Host(d)
}

// shortURLOn is l's short URL, on its domain.
func (s *Server) shortURLOn(l link.Link) string {
	if l.Domain == link.DefaultDomain || s.domains == nil {
		return s.shortURL(l.Code)
	}
	return s.scheme + "://" + s.domains.Host(l.Domain) + "/" + string(l.Code)
}

// domainQuery is the query that names domain d on the API's link paths:
// none for the default domain.
func (s *Server) domainQuery(d int64) string {
	if d == link.DefaultDomain {
		return ""
	}
	return "?domain=" + url.QueryEscape(s.domainHost(d))
}

// domainParam is the domain that a link path's ?domain= names; none: the
// default domain. No link is on a host that is no domain: ErrNotFound.
func (s *Server) domainParam(r *http.Request) (int64, error) {
	v := r.URL.Query().Get("domain")
	if v == "" {
		return link.DefaultDomain, nil
	}
	if s.domains == nil {
		if link.RequestHost(v) == link.RequestHost(s.baseHost()) {
			return link.DefaultDomain, nil
		}
		return 0, link.ErrNotFound
	}
	d, err := s.domains.Named(v)
	if err != nil {
		return 0, link.ErrNotFound
	}
	return d.ID, nil
}

// listDomain applies a list's ?domain= to lq: the links on that short
// domain. A host that is none of the domains is read as destination_host,
// which ?domain= meant before short domains existed, unless
// destination_host is given too.
func (s *Server) listDomain(q url.Values, lq *link.ListQuery) error {
	v := q.Get("domain")
	if v == "" {
		return nil
	}
	var d link.Domain
	var err error = link.ErrDomainNotFound
	switch {
	case s.domains != nil:
		d, err = s.domains.Named(v)
	case link.RequestHost(v) == link.RequestHost(s.baseHost()):
		err = nil
	}
	if err == nil {
		lq.OnDomain, lq.Domain = true, d.ID
		return nil
	}
	bad := &link.Error{Kind: link.Invalid, Code: "invalid_domain", Field: "domain",
		Message: "domain must be the host of one of this shortener's domains; see GET /api/v1/domains."}
	if lq.DestinationHost != "" {
		return bad
	}
	if h, herr := link.CanonicalHost(v); herr != nil || h == "" {
		return bad
	}
	lq.DestinationHost = v
	return nil
}

// notFoundRedirect sends a visitor of a link that is not on domain d to
// the domain's not-found redirect, if it has one and err is that.
func (s *Server) notFoundRedirect(w http.ResponseWriter, d int64, err error) bool {
	if s.domains == nil || !isNotFound(err) {
		return false
	}
	dom, ok := s.domains.ByID(d)
	if !ok || dom.NotFoundRedirect == "" {
		return false
	}
	w.Header()["Location"] = []string{dom.NotFoundRedirect}
	w.WriteHeader(http.StatusFound)
	return true
}

func isNotFound(err error) bool {
	var le *link.Error
	return errors.As(err, &le) && le.Kind == link.NotFound
}

// requestDomain is the id of the domain r's host names, for the orphan
// visits of paths that are no code: the default domain while it is the
// only one, and for a host that is no domain.
func (s *Server) requestDomain(r *http.Request) int64 {
	if s.domains == nil || !s.domains.Branded() {
		return link.DefaultDomain
	}
	d, _ := s.domains.Lookup(link.RequestHost(s.host(r)))
	return d.ID
}
