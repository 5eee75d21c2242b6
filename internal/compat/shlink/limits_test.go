package shlink_test

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/link"
)

// TestSameLimitsAndMetrics checks that the Shlink API is no back door: its
// creates spend the same per-address budget as the native API's, are
// refused the same way (as a problem, with Retry-After), and are counted
// in the same metrics, labelled by route.
func TestSameLimitsAndMetrics(t *testing.T) {
	srv := startServer(t, func(c *config.Config) { c.CreateRate, c.CreateBurst = 0.001, 2 })
	key := srv.key(t, "limits", false)
	post := func(path, auth, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "POST", srv.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(auth, key)
		if auth == "Authorization" {
			req.Header.Set(auth, "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	// One native create and one Shlink create use up the burst of two.
	if resp := post("/api/v1/links", "Authorization", `{"url":"https://example.com/1"}`); resp.StatusCode != 201 {
		t.Fatalf("native create: %d", resp.StatusCode)
	}
	if resp := post("/rest/v3/short-urls", "X-Api-Key", `{"longUrl":"https://example.com/2"}`); resp.StatusCode != 200 {
		t.Fatalf("Shlink create: %d", resp.StatusCode)
	}
	resp := post("/rest/v3/short-urls", "X-Api-Key", `{"longUrl":"https://example.com/3"}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("third create: %d, Retry-After %q, Content-Type %q; want 429 problem with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"))
	}
	// The shortcut creates too, so it is limited too.
	r2, err := http.Get(srv.url + "/rest/v3/short-urls/shorten?apiKey=" + key + "&longUrl=https://example.com/4")
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusTooManyRequests {
		t.Errorf("shorten after the budget: %d, want 429", r2.StatusCode)
	}

	m, err := http.Get(srv.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Body.Close()
	want := map[string]bool{
		`shortlinks_creates_total{outcome="ok"} 2`:           false,
		`shortlinks_creates_total{outcome="rate_limited"} 2`: false,
		`shortlinks_rate_limited_total 2`:                    false,
	}
	sawRoute := false
	sc := bufio.NewScanner(m.Body)
	for sc.Scan() {
		line := sc.Text()
		if _, ok := want[line]; ok {
			want[line] = true
		}
		if strings.HasPrefix(line, "shortlinks_http_requests_total{") && strings.Contains(line, `route="POST /rest/v3/short-urls"`) {
			sawRoute = true
		}
	}
	for line, seen := range want {
		if !seen {
			t.Errorf("/metrics has no line %s", line)
		}
	}
	if !sawRoute {
		t.Errorf("/metrics counts no requests labelled route=\"POST /rest/v3/short-urls\"")
	}
}

// TestOffByDefault checks that without --compat shlink nothing is served
// under /rest/.
func TestOffByDefault(t *testing.T) {
	srv := startServer(t, func(c *config.Config) { c.Compat = nil })
	for _, path := range []string{"/rest/health", "/rest/v3/short-urls"} {
		resp, err := http.Get(srv.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET %s without --compat: %d, want a plain 404", path, resp.StatusCode)
		}
	}
}

// TestKeyScopesAndLimit checks that a key is held to what it may do as on
// the native API: a read-only key reads but creates nothing, through
// either create route, and a key's creates spend its per-key budget
// whichever API makes them.
func TestKeyScopesAndLimit(t *testing.T) {
	srv := startServer(t, func(c *config.Config) { c.KeyCreateRate, c.KeyCreateBurst = 0.001, 2 })
	admin := link.Principal{Admin: true, Scopes: link.AllScopes}
	_, readOnly, err := srv.app.Keys().Issue(t.Context(), admin, apikey.IssueParams{Name: "reader", Scopes: link.ScopeLinksRead})
	if err != nil {
		t.Fatal(err)
	}
	writer := srv.key(t, "writer", false)
	do := func(method, path, key, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Api-Key", key)
		if strings.HasPrefix(path, "/api/") {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		method, path, key, body string
		want                    int
	}{
		{"GET", "/rest/v3/short-urls", readOnly, "", 200},
		{"POST", "/rest/v3/short-urls", readOnly, `{"longUrl":"https://example.com/r"}`, 403},
		{"GET", "/rest/v3/short-urls/shorten?longUrl=https://example.com/r&apiKey=" + readOnly, "", "", 403},
		{"DELETE", "/rest/v3/short-urls/abcdef", readOnly, "", 403},
		// The writer's budget of two: one native create, one Shlink create.
		{"POST", "/api/v1/links", writer, `{"url":"https://example.com/1"}`, 201},
		{"POST", "/rest/v3/short-urls", writer, `{"longUrl":"https://example.com/2"}`, 200},
		{"POST", "/rest/v3/short-urls", writer, `{"longUrl":"https://example.com/3"}`, 429},
		{"GET", "/rest/v3/short-urls/shorten?longUrl=https://example.com/4&apiKey=" + writer, "", "", 429},
	} {
		if resp := do(tc.method, tc.path, tc.key, tc.body); resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}
