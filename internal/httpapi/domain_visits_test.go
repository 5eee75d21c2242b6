package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/routes"
	"github.com/shortlinks/shortlinks/internal/shortcode"
)

// withDomain serves the fixture's links on the default domain, sho.rt,
// and on host, which it adds; it returns the new domain's id through id.
func withDomain(t testing.TB, host string, id *int64) func(*handlerSetup) {
	return func(s *handlerSetup) {
		doms := link.NewDomains(s.db, s.opts.BaseURL, nil)
		d, err := doms.Add(t.Context(), link.Principal{Admin: true}, link.NewDomain{Host: host})
		if err != nil {
			t.Fatal(err)
		}
		*id = d.ID
		perm, err := shortcode.NewPermutation(make([]byte, shortcode.KeyLength))
		if err != nil {
			t.Fatal(err)
		}
		svc := link.NewService(s.db, s.db, shortcode.NewGenerator(perm, s.db, 100), link.Options{
			URLRules: link.URLRules{SelfHosts: []string{"sho.rt"}}, Reserved: routes.ReservedPaths(),
			Editor: s.db, Domains: doms,
		})
		s.links = func(httpapi.Links) httpapi.Links { return svc }
		s.opts.Domains, s.routes.Domains = doms, doms
	}
}

// TestOrphanVisitsByDomain: a visit to a code that is not on the domain
// asked for, and to a path that is no code, is counted as an orphan visit
// of that domain; the default domain's stay 0.
func TestOrphanVisitsByDomain(t *testing.T) {
	col := &collector{}
	rec := newRecorder(t, col)
	var acme int64
	f := newHandlerFixture(t, withDomain(t, "go.acme.example", &acme), func(s *handlerSetup) { s.opts.Clicks = rec })
	admin := f.key("admin", true)
	f.mustCreate(`{"url":"https://example.com/a","alias":"on-acme","domain":"go.acme.example"}`, "Authorization", admin)
	col.flush(t, rec)

	get := func(host, path string) int {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Host = host
		w := httptest.NewRecorder()
		f.handler.ServeHTTP(w, r)
		return w.Code
	}
	for _, c := range []struct {
		host, path string
		status     int
	}{
		{"go.acme.example", "/on-acme", http.StatusFound},
		{"go.acme.example", "/nothere", http.StatusNotFound},
		{"sho.rt", "/nothere", http.StatusNotFound},
		{"go.acme.example", "/a/b", http.StatusNotFound},
		{"go.acme.example", "/", http.StatusNotFound},
	} {
		if got := get(c.host, c.path); got != c.status {
			t.Fatalf("GET %s%s: %d, want %d", c.host, c.path, got, c.status)
		}
	}
	got := col.flush(t, rec)
	want := []struct {
		kind   analytics.Kind
		domain int64
	}{
		{analytics.Redirect, acme},
		{analytics.OrphanUnknown, acme},
		{analytics.OrphanUnknown, link.DefaultDomain},
		{analytics.OrphanOther, acme},
		{analytics.OrphanBareDomain, acme},
	}
	if len(got) != len(want) {
		t.Fatalf("recorded %d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Kind != w.kind || int64(got[i].Domain) != w.domain {
			t.Errorf("event %d: kind %v on domain %d, want %v on %d", i, got[i].Kind, got[i].Domain, w.kind, w.domain)
		}
	}
}
