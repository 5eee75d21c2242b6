package httpapi

import (
	"net/http"

	"github.com/shortlinks/shortlinks/internal/link"
)

// redirect is the product: one lookup, then the stored URL byte for byte.
// It never writes to storage.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request) {
	s.redirectTo(w, r, link.Code(r.PathValue("code")))
}

// redirectTo answers r with the redirect for code.
func (s *Server) redirectTo(w http.ResponseWriter, r *http.Request, code link.Code) {
	l, src, err := s.links.Resolve(r.Context(), code)
	if err != nil {
		s.metrics.redirectFailed(err)
		s.fail(w, s.withRequestID(w, r), err)
		return
	}
	s.metrics.redirected(src)
	h := w.Header()
	// Set directly rather than with http.Redirect, which would clean and
	// re-escape the URL; the client must get exactly what was stored.
	h["Location"] = []string{l.URL}
	if s.cacheControl != nil {
		h["Cache-Control"] = s.cacheControl
	}
	w.WriteHeader(s.redirectStatus)
}
