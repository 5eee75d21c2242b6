package shlink

import (
	"net/http"
	"strconv"
)

// CORSMaxAge is how long a browser may reuse a preflight's answer, in
// seconds: Shlink's default.
const CORSMaxAge = 3600

// allowedHeaders are the request headers a preflight allows when the
// browser names none: what Shlink's clients send.
const allowedHeaders = "Accept, Content-Type, X-Api-Key"

// CORS lets browser apps on any origin call next, as Shlink does: its web
// client is served from another origin. Any origin may, since requests
// carry their API key in a header and never a cookie, so no credentials
// are allowed. Only requests that come with an Origin get the headers.
func (a *API) CORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
		}
		next.ServeHTTP(w, r)
	})
}

// Preflight answers a CORS preflight (OPTIONS) for a path that takes the
// methods in allow, comma-separated: 204, those methods, the headers the
// browser asked to send and how long to remember it.
func (a *API) Preflight(allow string) http.Handler {
	return a.CORS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Allow", allow+", OPTIONS")
		if r.Header.Get("Origin") != "" {
			headers := r.Header.Get("Access-Control-Request-Headers")
			if headers == "" {
				headers = allowedHeaders
			}
			h.Set("Access-Control-Allow-Methods", allow)
			h.Set("Access-Control-Allow-Headers", headers)
			h.Set("Access-Control-Max-Age", strconv.Itoa(CORSMaxAge))
			h.Add("Vary", "Access-Control-Request-Headers")
		}
		w.WriteHeader(http.StatusNoContent)
	}))
}
