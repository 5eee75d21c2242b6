package httpapi

import (
	"net/http"
	"strings"

	"github.com/shortlinks/shortlinks/internal/link"
)

var errKeyRequired = &link.Error{Kind: link.Unauthenticated, Code: "unauthorized",
	Message: "This needs an API key: send 'Authorization: Bearer <key>'. Create one with 'shortlinks apikey create'."}

// principal returns who sent r: anonymous without an Authorization header,
// an error for a header that is malformed or names no valid key.
func (s *Server) principal(r *http.Request) (link.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return link.Principal{}, nil
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return link.Principal{}, &link.Error{Kind: link.Unauthenticated, Code: "unauthorized",
			Message: "The Authorization header must be 'Bearer <key>'."}
	}
	return s.auth.Authenticate(r.Context(), strings.TrimSpace(token))
}

// requireKeyFor is principal for routes that anonymous clients may not use.
func (s *Server) requireKeyFor(r *http.Request) (link.Principal, error) {
	p, err := s.principal(r)
	if err == nil && p.Anonymous() {
		return p, errKeyRequired
	}
	return p, err
}
