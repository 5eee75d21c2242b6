package httpapi

import (
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortlinks/shortlinks/internal/link"
)

// Redirect is the product: one lookup, then the stored URL byte for byte.
// It never writes to storage. The route table calls it with the code from
// the path.
func (s *Server) Redirect(w http.ResponseWriter, r *http.Request, code link.Code) {
	l, err := s.links.Resolve(r.Context(), code)
	if err != nil {
		s.redirect.failed(err)
		s.errs.Fail(w, r, err)
		return
	}
	s.redirect.ok.Inc()
	h := w.Header()
	// Set directly rather than with http.Redirect, which would clean and
	// re-escape the URL; the client must get exactly what was stored.
	h["Location"] = []string{l.URL}
	if s.redirect.cacheControl != nil {
		h["Cache-Control"] = s.redirect.cacheControl
	}
	w.WriteHeader(s.redirect.status)
}

// redirect is how redirects are answered, and their counters by outcome
// (shortlinks_redirects_total): ok, or why there was no redirect. Which
// cache tier answered is the cache's to count.
type redirect struct {
	status       int
	cacheControl []string // nil: no Cache-Control

	ok, notFound, expired, unavailable, failures prometheus.Counter
}

func newRedirect(status int, cacheControl string, reg prometheus.Registerer) redirect {
	outcomes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shortlinks_redirects_total",
		Help: "Redirect requests by outcome: ok, not_found, expired, unavailable (storage could not answer), error.",
	}, []string{"outcome"})
	reg.MustRegister(outcomes)
	// Every outcome is exported from the start, at zero, so that rates and
	// alerts over them have a series before the first such request.
	rd := redirect{
		status:      status,
		ok:          outcomes.WithLabelValues("ok"),
		notFound:    outcomes.WithLabelValues("not_found"),
		expired:     outcomes.WithLabelValues("expired"),
		unavailable: outcomes.WithLabelValues("unavailable"),
		failures:    outcomes.WithLabelValues("error"),
	}
	if rd.status == 0 {
		rd.status = DefaultRedirectStatus
	}
	if cacheControl != "" {
		rd.cacheControl = []string{cacheControl}
	}
	return rd
}

func (rd *redirect) failed(err error) {
	switch {
	case errors.Is(err, link.ErrNotFound):
		rd.notFound.Inc()
	case errors.Is(err, link.ErrExpired):
		rd.expired.Inc()
	case errors.Is(err, link.ErrUnavailable):
		rd.unavailable.Inc()
	default:
		rd.failures.Inc()
	}
}
