package shlink_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestBrandedDomains: Shlink's "domain" names a short domain on create,
// list, get, edit, visits and delete; the same slug may be on two domains,
// and a domain that is not here is refused on create and has no links.
func TestBrandedDomains(t *testing.T) {
	s := startServer(t)
	admin := s.key(t, "admin", true)
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, s.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Api-Key", admin)
		req.Header.Set("Authorization", "Bearer "+admin)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	if st, m := call(http.MethodPost, "/api/v1/domains", `{"host":"go.acme.test"}`); st != http.StatusCreated {
		t.Fatalf("add domain: %d %v", st, m)
	}
	base, _ := url.Parse(s.url)

	st, branded := call(http.MethodPost, "/rest/v3/short-urls", `{"longUrl":"https://acme.example/launch","customSlug":"launch","domain":"go.acme.test"}`)
	if st != http.StatusOK || branded["domain"] != "go.acme.test" || branded["shortUrl"] != "http://go.acme.test/launch" {
		t.Fatalf("create on go.acme.test: %d %v", st, branded)
	}
	st, plain := call(http.MethodPost, "/rest/v3/short-urls", `{"longUrl":"https://other.example/launch","customSlug":"launch"}`)
	if st != http.StatusOK || plain["domain"] != nil || plain["shortUrl"] != s.url+"/launch" {
		t.Fatalf("the same slug on the default domain: %d %v", st, plain)
	}
	if st, m := call(http.MethodPost, "/rest/v3/short-urls", `{"longUrl":"https://x.example/","domain":"nowhere.test"}`); st != http.StatusBadRequest || !strings.HasSuffix(m["type"].(string), "invalid-data") {
		t.Errorf("create on a domain that is not here: %d %v", st, m)
	}

	if _, m := call(http.MethodGet, "/rest/v3/short-urls/launch?domain=go.acme.test", ""); m["longUrl"] != "https://acme.example/launch" {
		t.Errorf("get on go.acme.test: %v", m)
	}
	for _, d := range []string{"", "?domain=DEFAULT", "?domain=" + base.Host} {
		if _, m := call(http.MethodGet, "/rest/v3/short-urls/launch"+d, ""); m["longUrl"] != "https://other.example/launch" {
			t.Errorf("get %q on the default domain: %v", d, m)
		}
	}
	if st, _ := call(http.MethodGet, "/rest/v3/short-urls/launch?domain=nowhere.test", ""); st != http.StatusNotFound {
		t.Errorf("get on a domain that is not here: %d", st)
	}
	count := func(query string) int {
		t.Helper()
		_, m := call(http.MethodGet, "/rest/v3/short-urls"+query, "")
		data, _ := m["shortUrls"].(map[string]any)["data"].([]any)
		return len(data)
	}
	if n := count("?domain=go.acme.test"); n != 1 {
		t.Errorf("list on go.acme.test: %d links, want 1", n)
	}
	if n := count(""); n != 2 {
		t.Errorf("list of every domain: %d links, want 2", n)
	}
	if st, m := call(http.MethodPatch, "/rest/v3/short-urls/launch?domain=go.acme.test", `{"title":"Launch"}`); st != http.StatusOK || m["title"] != "Launch" || m["domain"] != "go.acme.test" {
		t.Errorf("edit on go.acme.test: %d %v", st, m)
	}
	_, doms := call(http.MethodGet, "/rest/v3/domains", "")
	if data, _ := doms["domains"].(map[string]any)["data"].([]any); len(data) != 2 {
		t.Errorf("domains: %v", doms)
	}
	if st, _ := call(http.MethodDelete, "/rest/v3/short-urls/launch?domain=go.acme.test", ""); st != http.StatusNoContent {
		t.Errorf("delete on go.acme.test: %d", st)
	}
	if _, m := call(http.MethodGet, "/rest/v3/short-urls/launch", ""); m["longUrl"] != "https://other.example/launch" {
		t.Errorf("the default domain's launch after the delete on go.acme.test: %v", m)
	}
}
