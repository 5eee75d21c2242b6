package routes

import (
	"net/http"

	"github.com/shortlinks/shortlinks/internal/link"
)

// errUnknownDomain answers a request for a host that is not one of the
// domains, once there are several: no other domain's link is served there.
var errUnknownDomain = &link.Error{Kind: link.NotFound, Code: "unknown_domain",
	Message: "This host is not one of this shortener's domains."}

// domainOf returns the domain r asked for by its host (port ignored, any
// case, trailing dot stripped); false for a host that is no domain.
func (t *Table) domainOf(r *http.Request) (link.Domain, bool) {
	return t.domains.Lookup(link.RequestHost(t.host(r)))
}

// redirectOn answers a redirect for code on the domain the request's host
// names, once there is more than the default domain.
func (t *Table) redirectOn(w http.ResponseWriter, r *http.Request, code link.Code) {
	dom, ok := t.domainOf(r)
	switch {
	case !ok:
		t.errs.Fail(w, r, errUnknownDomain)
	default:
		t.api.Redirect(w, r, dom.ID, code)
	}
}

// unlockOn takes a password form's post on the domain the request's host
// names, as the redirect does.
func (t *Table) unlockOn(w http.ResponseWriter, r *http.Request) {
	t.onDomain(func(w http.ResponseWriter, r *http.Request, d int64) {
		t.api.Unlock(w, r, d, link.Code(r.PathValue("code")))
	})(w, r)
}

// onDomain serves h on the domain the request's host names, as the
// redirect is served: the default domain whatever the host while it is the
// only one; 404 unknown_domain for a host that is none of them.
func (t *Table) onDomain(h func(w http.ResponseWriter, r *http.Request, domain int64)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d, ok := t.requestDomain(r)
		if !ok {
			t.errs.Fail(w, r, errUnknownDomain)
			return
		}
		h(w, r, d)
	}
}

// requestDomain is the id of the domain the request's host names; false
// for a host that is none of the domains, once there are several.
func (t *Table) requestDomain(r *http.Request) (int64, bool) {
	if t.domains == nil || !t.domains.Branded() {
		return link.DefaultDomain, true
	}
	dom, ok := t.domainOf(r)
	return dom.ID, ok
}

// root serves "/" by domain: page on the default domain (and on every
// host while it is the only one); elsewhere, the domain's root redirect,
// or the 404 page.
func (t *Table) root(page http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if t.domains == nil || !t.domains.Branded() {
			page(w, r)
			return
		}
		dom, ok := t.domainOf(r)
		switch {
		case !ok:
			t.errs.Fail(w, r, errUnknownDomain)
		case dom.ID == link.DefaultDomain:
			page(w, r)
		case dom.RootRedirect != "":
			w.Header()["Location"] = []string{dom.RootRedirect}
			w.WriteHeader(http.StatusFound)
		default:
			t.api.NoRoute(w, r)
		}
	}
}
