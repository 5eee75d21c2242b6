package httpapi

import (
	"errors"
	"net/http"
	"net/netip"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// Clicks takes note of visits for click analytics. Record must return at
// once without allocating or blocking (analytics.Recorder does).
type Clicks interface {
	Record(c analytics.Click)
}

// Redirect is the product: one lookup, then the stored URL byte for byte.
// A plain link never writes to storage; only a link with a visit limit
// counts its visit (redirectWithOptions). The route table calls it with the code from
// the path and the domain from the host (link.DefaultDomain while there is
// no other).
func (s *Server) Redirect(w http.ResponseWriter, r *http.Request, d int64, code link.Code) {
	l, err := s.links.ResolveOn(r.Context(), d, code)
	if err != nil {
		s.redirect.failed(err)
		if kind, ok := orphanKind(err); ok {
			s.record(w, r, kind, 0, d)
		}
		if d != link.DefaultDomain && s.notFoundRedirect(w, d, err) {
			return
		}
		s.errs.Fail(w, r, err)
		return
	}
	if l.HasOptions() {
		s.redirectWithOptions(w, r, &l)
		return
	}
	s.redirect.ok.Inc()
	p := s.redirect.policy.Load()
	h := w.Header()
	// Set directly rather than with http.Redirect, which would clean and
	// re-escape the URL; the client must get exactly what was stored.
	// The slice comes from a block shared by many responses: no allocation.
	h["Location"] = s.redirect.locations.One(l.URL)
	if p.cacheControl != nil {
		h["Cache-Control"] = p.cacheControl
	}
	w.WriteHeader(p.status)
	s.record(w, r, analytics.Redirect, l.ID, d)
}

// SetRedirect changes how redirects are answered, as Options.RedirectStatus
// and Options.CacheControl say, from the next redirect on. It is safe to
// call while the server serves: a live configuration reload calls it.
func (s *Server) SetRedirect(status int, cacheControl string) {
	s.redirect.set(status, cacheControl)
}

// NoRoute answers a path at which nothing is served, counting it as an
// orphan visit to the domain the request's host names: the bare domain
// when the path is "/" (served only when there is no page, or on a
// branded domain without a root redirect), any other path otherwise.
func (s *Server) NoRoute(w http.ResponseWriter, r *http.Request) {
	kind := analytics.OrphanOther
	if r.URL.Path == "/" {
		kind = analytics.OrphanBareDomain
	}
	s.record(w, r, kind, 0, s.requestDomain(r))
	s.errs.Fail(w, r, edge.ErrNoRoute)
}

// record hands a visit to click analytics, when it is on, tagged with the
// domain d it was for. HEAD requests are not visits: browsers never send
// one to follow a link, and the link checkers that do would only add to
// the bots. Only what the request already holds is read (header values by
// their canonical keys, the time the edge read), and the Click is passed
// by value: no allocation.
func (s *Server) record(w http.ResponseWriter, r *http.Request, kind analytics.Kind, id, d int64) {
	if s.redirect.clicks == nil || r.Method == http.MethodHead {
		return
	}
	var addr netip.Addr
	if s.redirect.clientIP != nil {
		addr = s.redirect.clientIP(r)
	}
	h := r.Header
	s.redirect.clicks.Record(analytics.Click{
		Kind:           kind,
		LinkID:         id,
		Domain:         uint32(d),
		At:             edge.Started(w),
		Addr:           addr,
		UserAgent:      first(h["User-Agent"]),
		Referer:        first(h["Referer"]),
		AcceptLanguage: first(h["Accept-Language"]),
		NoTrack:        first(h["Dnt"]) == "1" || first(h["Sec-Gpc"]) == "1",
	})
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// orphanKind says which orphan visit a failed lookup is; storage failures
// are none, since nothing is known of the code.
func orphanKind(err error) (analytics.Kind, bool) {
	switch {
	case errors.Is(err, link.ErrNotFound):
		return analytics.OrphanUnknown, true
	case errors.Is(err, link.ErrExpired):
		return analytics.OrphanExpired, true
	case errors.Is(err, link.ErrDisabled):
		return analytics.OrphanDisabled, true
	}
	return 0, false
}

// redirect is how redirects are answered, and their counters by outcome
// (shortlinks_redirects_total): ok, or why there was no redirect. Which
// cache tier answered is the cache's to count.
type redirect struct {
	// policy is read once per redirect, one atomic load, and swapped whole
	// on reload, so that no redirect pairs an old status with a new
	// Cache-Control.
	policy atomic.Pointer[redirectPolicy]

	ok, notFound, expired, disabled, unavailable, failures prometheus.Counter

	locations edge.HeaderValues // the Location headers' values

	// What a redirect records and reads besides the link: the click
	// pipeline, the client's address (trusted proxies applied), and for
	// links with options the password form, countries and their counters.
	clicks       Clicks
	clientIP     func(*http.Request) netip.Addr
	passwordForm PasswordForm
	countries    Countries
	options      linkOptions
}

type redirectPolicy struct {
	status       int
	cacheControl []string // nil: no Cache-Control; never changed once stored
}

func (rd *redirect) set(status int, cacheControl string) {
	p := &redirectPolicy{status: status}
	if p.status == 0 {
		p.status = DefaultRedirectStatus
	}
	if cacheControl != "" {
		p.cacheControl = []string{cacheControl}
	}
	rd.policy.Store(p)
}

func (rd *redirect) init(status int, cacheControl string, reg prometheus.Registerer) {
	outcomes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shortlinks_redirects_total",
		Help: "Redirect requests by outcome: ok, not_found (or not valid yet), expired, disabled, unavailable (storage could not answer), error.",
	}, []string{"outcome"})
	reg.MustRegister(outcomes)
	// Every outcome is exported from the start, at zero, so that rates and
	// alerts over them have a series before the first such request.
	rd.ok = outcomes.WithLabelValues("ok")
	rd.notFound = outcomes.WithLabelValues("not_found")
	rd.expired = outcomes.WithLabelValues("expired")
	rd.disabled = outcomes.WithLabelValues("disabled")
	rd.unavailable = outcomes.WithLabelValues("unavailable")
	rd.failures = outcomes.WithLabelValues("error")
	rd.set(status, cacheControl)
}

func (rd *redirect) failed(err error) {
	switch {
	case errors.Is(err, link.ErrNotFound), errors.Is(err, link.ErrNotYetValid):
		rd.notFound.Inc()
	case errors.Is(err, link.ErrExpired):
		rd.expired.Inc()
	case errors.Is(err, link.ErrDisabled):
		rd.disabled.Inc()
	case errors.Is(err, link.ErrUnavailable):
		rd.unavailable.Inc()
	default:
		rd.failures.Inc()
	}
}
