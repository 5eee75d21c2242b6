package shlink_test

import (
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/compat/shlink"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/routes"
)

// notServed are the operations of Shlink's document that Shortlinks does
// not serve, and why; docs/migrate.md lists them too.
var notServed = map[string]string{
	"DELETE /rest/v{version}/short-urls/{shortCode}/visits":       "visits are deleted by retention, not on request",
	"GET /rest/v{version}/short-urls/{shortCode}/redirect-rules":  "no redirect rules",
	"POST /rest/v{version}/short-urls/{shortCode}/redirect-rules": "no redirect rules",
	"PUT /rest/v{version}/tags":                                   "no tags to rename",
	"DELETE /rest/v{version}/tags":                                "no tags to delete",
	"DELETE /rest/v{version}/visits/orphan":                       "no orphan visits",
	"PATCH /rest/v{version}/domains/redirects":                    "no per-domain not-found redirects",
	"GET /{shortCode}":                                            "the redirect is Shortlinks' own",
	"GET /{shortCode}/track":                                      "no tracking pixel",
}

// beyondDocument are routes served that Shlink's document leaves out.
var beyondDocument = map[string]string{
	"GET /rest/v{version}/health": "Shlink serves health under each version too, where its SDK asks for it",
}

// TestRoutesAreShlinkOperations checks that every route the table mounts
// under /rest/ is an operation of Shlink's document, and that every
// operation there is either served or listed in notServed.
func TestRoutesAreShlinkOperations(t *testing.T) {
	doc := loadShlinkDocument(t)
	log := slog.New(slog.DiscardHandler)
	api := shlink.New(nil, nil, log, shlink.Options{BaseURL: "https://sho.rt"})
	table := routes.New(httpapi.New(nil, nil, log, httpapi.Options{}), log, routes.Options{Shlink: api})

	version := regexp.MustCompile(`^/rest/v[23]/`)
	served := map[string]bool{}
	for _, p := range table.Patterns() {
		method, path, ok := strings.Cut(p, " ")
		if !ok || !strings.HasPrefix(path, routes.ShlinkPrefix) || method == http.MethodOptions {
			continue
		}
		docPath := version.ReplaceAllString(path, "/rest/v{version}/")
		if _, ok := beyondDocument[method+" "+docPath]; ok {
			continue
		}
		item := doc.Paths.Value(docPath)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("route %q is not an operation of Shlink's document (%s %s)", p, method, docPath)
			continue
		}
		served[method+" "+docPath] = true
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			op := method + " " + path
			if _, skip := notServed[op]; !served[op] && !skip {
				t.Errorf("Shlink's %s is neither served nor listed as not served", op)
			}
			if _, skip := notServed[op]; served[op] && skip {
				t.Errorf("%s is served but listed as not served", op)
			}
		}
	}
}

// TestCORS checks what a browser app on another origin sees: every answer
// under /rest/ allows any origin, and a preflight for X-Api-Key passes
// with the path's methods; the native API stays same-origin.
func TestCORS(t *testing.T) {
	srv := startServer(t)
	key := srv.key(t, "cors", false)
	do := func(method, path string, header ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", "https://app.shlink.io")
		for i := 0; i < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}

	resp := do("OPTIONS", "/rest/v3/short-urls/abc", "Access-Control-Request-Method", "PATCH",
		"Access-Control-Request-Headers", "x-api-key, content-type")
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("preflight: %d, want 204", resp.StatusCode)
	}
	want := map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Methods": "GET, PATCH, DELETE",
		"Access-Control-Allow-Headers": "x-api-key, content-type",
		"Access-Control-Max-Age":       "3600",
	}
	for h, v := range want {
		if got := resp.Header.Get(h); got != v {
			t.Errorf("preflight %s: %q, want %q", h, got, v)
		}
	}
	if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != "" {
		t.Errorf("preflight allows credentials: %q", got)
	}
	resp = do("OPTIONS", "/rest/v3/short-urls", "Access-Control-Request-Method", "POST")
	if got := resp.Header.Get("Access-Control-Allow-Methods"); got != "GET, POST" {
		t.Errorf("preflight of /short-urls allows %q", got)
	}
	if got := resp.Header.Get("Access-Control-Allow-Headers"); !strings.Contains(got, "X-Api-Key") {
		t.Errorf("preflight without requested headers allows %q, want X-Api-Key among them", got)
	}

	for _, tc := range []struct {
		method, path string
		header       []string
		status       int
	}{
		{"GET", "/rest/v3/short-urls", []string{"X-Api-Key", key}, 200},
		{"GET", "/rest/v3/short-urls", nil, 401},
		{"GET", "/rest/health", nil, 200},
		{"PUT", "/rest/v3/short-urls", []string{"X-Api-Key", key}, 405},
		{"GET", "/rest/v3/nothing", nil, 404},
	} {
		resp := do(tc.method, tc.path, tc.header...)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("%s %s: Access-Control-Allow-Origin %q, want *", tc.method, tc.path, got)
		}
	}
	if resp := do("GET", "/api/v1/links", "Authorization", "Bearer "+key); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("the native API answers cross-origin requests with CORS headers")
	}
	// Without an Origin, no CORS headers, as in Shlink.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.url+"/rest/health", nil)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a request without Origin got CORS headers")
	}
}
