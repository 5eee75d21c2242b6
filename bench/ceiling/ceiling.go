// Package ceiling is the fastest redirect handler one can reasonably write
// in Go: a map from code to URL and nothing else. bench/baseline serves it
// for 'make bench', and the in-process redirect benchmark runs it beside
// Shortlinks' handler, so both measure against the same ceiling.
package ceiling

import (
	"net/http"
	"strings"
)

// Handler answers GET and HEAD /CODE with a 302, its Location and
// cacheControl (Shortlinks' default, config.Default().CacheControl, for a
// like-for-like measure), and 404 for anything else.
func Handler(links map[string]string, cacheControl string) http.Handler {
	cc := []string{cacheControl}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		url, ok := links[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h["Location"] = []string{url}
		h["Cache-Control"] = cc
		w.WriteHeader(http.StatusFound)
	})
}
