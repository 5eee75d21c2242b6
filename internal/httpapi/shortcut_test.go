package httpapi

import (
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/routes"
)

// TestShortcutLeavesOwnRoutesAlone checks the promise the redirect
// shortcut relies on: every route whose first path segment could pass for a
// code starts with one of the server's own names, so the shortcut never
// takes a request that the route table would give to another handler.
func TestShortcutLeavesOwnRoutesAlone(t *testing.T) {
	own := map[string]bool{}
	for _, name := range routes.ReservedPaths() {
		own[name] = true
	}
	for _, p := range fullServer(t).Patterns() {
		path := p
		if _, after, ok := strings.Cut(p, " "); ok {
			path = after
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
		if strings.HasPrefix(first, "{") || !link.ValidCode(link.Code(first)) {
			continue
		}
		if !own[first] {
			t.Errorf("route %q starts with %q, which is not in ReservedPaths: the redirect shortcut would take its requests", p, first)
		}
	}
}
