package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/ratelimit"
)

var errKeyRequired = &link.Error{Kind: link.Unauthenticated, Code: "unauthorized",
	Message: "This needs an API key: send 'Authorization: Bearer <key>'. Create one with 'shortlinks apikey create'."}

// Errors of a key that lacks a scope. Their codes are part of the API.
var (
	errNeedsRead = &link.Error{Kind: link.Forbidden, Code: "insufficient_scope",
		Message: "This API key may not read links: it lacks the links:read scope."}
	errNeedsWrite = &link.Error{Kind: link.Forbidden, Code: "insufficient_scope",
		Message: "This API key may not change links: it lacks the links:write scope."}
	errNeedsAdmin = &link.Error{Kind: link.Forbidden, Code: "admin_required",
		Message: "This needs an administrator's API key with the admin scope."}
)

// KeyLimiter rations what one API key may do, apart from what its client
// address may; *ratelimit.Local and *ratelimit.Shared are two.
type KeyLimiter interface {
	Allow(ctx context.Context, key string) (ratelimit.Decision, error)
}

// principal returns who sent r: anonymous without an Authorization header,
// an error for a header that is malformed or names no valid key. A key is
// held to its scopes here, for every route at once: reading (GET, HEAD)
// needs links:read, anything else links:write.
func (s *Server) principal(r *http.Request) (link.Principal, error) {
	p, err := s.authenticate(r)
	if err != nil || p.Anonymous() {
		return p, err
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !p.Can(link.ScopeLinksRead) {
			return p, errNeedsRead
		}
	default:
		if !p.Can(link.ScopeLinksWrite) {
			return p, errNeedsWrite
		}
	}
	return p, nil
}

// authenticate returns who the Authorization header names: anonymous
// without one, an error for one that is malformed or names no valid key.
func (s *Server) authenticate(r *http.Request) (link.Principal, error) {
	hs := r.Header.Values("Authorization")
	if len(hs) > 1 {
		// Proxies and the server could each pick a different one.
		return link.Principal{}, &edge.Problem{Status: http.StatusBadRequest, Code: "duplicate_header",
			Message: fmt.Sprintf("The request has %d Authorization headers; send one.", len(hs))}
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return link.Principal{}, nil
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return link.Principal{}, &link.Error{Kind: link.Unauthenticated, Code: "unauthorized",
			Message: "The Authorization header must be 'Bearer <key>'."}
	}
	return s.keys.auth.Authenticate(r.Context(), strings.TrimSpace(token))
}

// requireKeyFor is principal for routes that anonymous clients may not use.
func (s *Server) requireKeyFor(r *http.Request) (link.Principal, error) {
	p, err := s.principal(r)
	if err == nil && p.Anonymous() {
		return p, errKeyRequired
	}
	return p, err
}

// requireAdmin is principal for the administrators' routes: a key with
// the admin scope, whose user (if it has one) is an admin. The link
// scopes are not asked for: the admin scope is its own.
func (s *Server) requireAdmin(r *http.Request) (link.Principal, error) {
	p, err := s.authenticate(r)
	switch {
	case err != nil:
		return p, err
	case p.Anonymous():
		return p, errKeyRequired
	case !p.Admin || !p.Can(link.ScopeAdmin):
		return p, errNeedsAdmin
	}
	return p, nil
}

// creator is principal for routes that create links: a key's creates are
// also rationed per key, on top of the per-address limit every client
// has, so that a key used from many addresses is held to one budget.
func (s *Server) creator(r *http.Request) (link.Principal, error) {
	p, err := s.principal(r)
	if err != nil || p.KeyID == 0 || s.keys.limit == nil {
		return p, err
	}
	d, err := s.keys.limit.Allow(r.Context(), "create-key:"+strconv.FormatInt(p.KeyID, 10))
	if err != nil {
		// A limiter that cannot decide must not stop people creating links.
		s.log.WarnContext(r.Context(), "key rate limiter failed; allowing", "err", err)
		return p, nil
	}
	if !d.Allowed {
		secs := max(int(d.RetryAfter.Seconds()+0.999), 1)
		return p, &edge.Problem{
			Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {strconv.Itoa(secs)}}, Code: "key_rate_limited",
			Message: "Too many links created with this API key; retry in " + strconv.Itoa(secs) + " seconds.",
		}
	}
	return p, nil
}
