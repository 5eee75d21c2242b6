package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/qr"
	"github.com/shortlinks/shortlinks/internal/report"
	"github.com/shortlinks/shortlinks/internal/routes"
	"github.com/shortlinks/shortlinks/internal/web"
)

const (
	jsonType = "application/json"
	formType = "application/x-www-form-urlencoded"
)

func seconds(n int64) *int64 { return &n }

// TestContract drives every operation of openapi.yaml against real servers,
// through each status the document lists, and checks every request and
// answer against the document the server serves. Its last step fails for
// any documented answer that no case produced.
func TestContract(t *testing.T) {
	top := t
	srv := startContractApp(t)
	c := loadContract(t, srv)
	owner := srv.key(t, "owner", false)
	other := srv.key(t, "other", false)
	admin := srv.key(t, "admin", true)
	reader := srv.issue(t, apikey.IssueParams{Name: "reader", Scopes: link.ScopeLinksRead})
	writer := srv.issue(t, apikey.IssueParams{Name: "writer", Scopes: link.ScopeLinksWrite})
	keyExpiry := time.Now().Add(time.Second)
	brief := srv.issue(t, apikey.IssueParams{Name: "brief", ExpiresAt: keyExpiry})

	// A link that expires in a second, for the 410 cases further on.
	expiring := srv.create(t, owner, httpapi.CreateRequest{URL: "https://example.com/soon", ExpiresIn: seconds(1)})
	waitExpired := func() {
		if d := time.Until(*expiring.ExpiresAt); d >= 0 {
			time.Sleep(d + 10*time.Millisecond)
		}
	}
	live := srv.create(t, owner, httpapi.CreateRequest{URL: "https://example.com/live"})

	// QR codes and the web page are optional parts of the server; their
	// cases run when app.New wires them, and are skipped, saying why,
	// when it does not.
	qrWired := srv.answers(t, "/api/v1/links/"+live.Code+"/qr")
	pagesWired := srv.answers(t, "/")
	const qrOp, homeOp, shortenOp = "GET /api/v1/links/{code}/qr", "GET /", "POST /"
	const qrMissing = "app.New gives httpapi.Options.QR no encoder, so every QR code answers 404"
	const pagesMissing = "app.New gives routes.Options.Pages no web page, so / has no route"

	t.Run("create", func(t *testing.T) {
		huge := `{"url":"https://example.com/` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}`
		tests := []struct {
			name        string
			body        string
			contentType string
			docRefuses  bool
			status      int
			code        string
		}{
			{"generated code", `{"url":"https://Example.COM/page?q=1"}`, jsonType, false, 201, ""},
			{"alias expiring in a day", `{"url":"https://example.com/launch","alias":"launch-2030","expires_in":86400}`, jsonType, false, 201, ""},
			{"expiry at a time", `{"url":"https://example.com/sale","expires_at":"2099-01-02T15:04:05Z"}`, jsonType + "; charset=utf-8", false, 201, ""},

			{"not JSON", `{"url":`, jsonType, true, 400, "malformed_json"},
			{"empty body", ` `, jsonType, true, 400, "malformed_json"},
			{"an array", `[]`, jsonType, true, 400, "malformed_json"},
			{"unknown field", `{"url":"https://example.com/","expires":"tomorrow"}`, jsonType, true, 400, "unknown_field"},
			{"another shortener", `{"url":"https://bit.ly/3xyzabc"}`, jsonType, false, 400, "url_is_short_link"},
			{"duplicate field", `{"url":"https://example.com/","url":"https://example.org/"}`, jsonType, false, 400, "duplicate_field"},
			{"invisible character", `{"url":"https://example.com/\u202Egnp.exe"}`, jsonType, false, 400, "url_invisible_character"},
			{"url not a string", `{"url":5}`, jsonType, true, 400, "invalid_field_type"},
			{"expires_in not a number", `{"url":"https://example.com/","expires_in":"soon"}`, jsonType, true, 400, "invalid_field_type"},
			{"no url", `{}`, jsonType, true, 400, "missing_url"},
			{"empty url", `{"url":""}`, jsonType, true, 400, "missing_url"},
			{"url with a space", `{"url":"https://exa mple.com/"}`, jsonType, false, 400, "invalid_url"},
			{"url without slashes", `{"url":"https:example.com"}`, jsonType, false, 400, "invalid_url"},
			{"url too long", `{"url":"https://example.com/` + strings.Repeat("a", link.DefaultMaxURLLength) + `"}`, jsonType, false, 400, "url_too_long"},
			{"ftp url", `{"url":"ftp://example.com/file"}`, jsonType, false, 400, "url_scheme_not_allowed"},
			{"url with credentials", `{"url":"https://user:secret@example.com/"}`, jsonType, false, 400, "url_has_credentials"},
			{"url of this service", `{"url":"` + srv.url + `/abc"}`, jsonType, false, 400, "url_self_reference"},
			{"alias with a slash", `{"url":"https://example.com/","alias":"no/slash"}`, jsonType, true, 400, "invalid_alias"},
			{"alias too short", `{"url":"https://example.com/","alias":"ab"}`, jsonType, true, 400, "invalid_alias"},
			{"reserved alias", `{"url":"https://example.com/","alias":"HealthZ"}`, jsonType, false, 400, "alias_reserved"},
			{"taken alias", `{"url":"https://example.com/other","alias":"launch-2030"}`, jsonType, false, 409, "alias_taken"},
			{"expires_at not a time", `{"url":"https://example.com/","expires_at":"tomorrow"}`, jsonType, true, 400, "invalid_expiry"},
			{"expires_in zero", `{"url":"https://example.com/","expires_in":0}`, jsonType, true, 400, "invalid_expiry"},
			{"expires_in beyond any clock", `{"url":"https://example.com/","expires_in":9000000000000000000}`, jsonType, false, 400, "invalid_expiry"},
			{"expires_at too far", `{"url":"https://example.com/","expires_at":"9999-06-01T00:00:00Z"}`, jsonType, false, 400, "invalid_expiry"},
			{"expires_at in the past", `{"url":"https://example.com/","expires_at":"2001-01-01T00:00:00Z"}`, jsonType, false, 400, "expiry_in_past"},
			{"both expiries", `{"url":"https://example.com/","expires_at":"2099-01-01T00:00:00Z","expires_in":60}`, jsonType, false, 400, "conflicting_expiry"},
			{"body over 64 KiB", huge, jsonType, false, 413, "body_too_large"},
			{"text body", `{"url":"https://example.com/"}`, "text/plain", true, 415, "unsupported_media_type"},
			{"no content type", `{"url":"https://example.com/"}`, "", true, 415, "unsupported_media_type"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/links", body: tt.body,
					contentType: tt.contentType, docRefuses: tt.docRefuses, status: tt.status, code: tt.code})
				if r.status != http.StatusCreated {
					return
				}
				var l httpapi.LinkJSON
				r.decode(t, &l)
				if got, want := r.header.Get("Location"), srv.url+"/api/v1/links/"+l.Code; got != want {
					t.Errorf("Location %q, want %q", got, want)
				}
				if l.ShortURL != srv.url+"/"+l.Code {
					t.Errorf("short_url %q for code %q", l.ShortURL, l.Code)
				}
			})
		}
	})

	t.Run("authentication", func(t *testing.T) {
		revoked := srv.revokedKey(t)
		time.Sleep(time.Until(keyExpiry))
		creds := []struct {
			name, authorization string
			docRefuses          bool
			code                string
		}{
			{"unknown key", "Bearer sl_" + strings.Repeat("A", 26), false, "unauthorized"},
			{"revoked key", "Bearer " + revoked, false, "unauthorized"},
			{"expired key", "Bearer " + brief, false, "key_expired"},
			{"not a key", "Bearer nonsense", false, "unauthorized"},
			{"basic scheme", "Basic dXNlcjpwYXNz", true, "unauthorized"},
		}
		target := "/api/v1/links/" + live.Code
		for _, cr := range creds {
			for _, k := range []contractCall{
				{method: http.MethodPost, path: "/api/v1/links", body: `{"url":"https://example.com/"}`, contentType: jsonType},
				{method: http.MethodGet, path: "/api/v1/links"},
				{method: http.MethodGet, path: target},
				{method: http.MethodDelete, path: target},
				{method: http.MethodGet, path: "/api/v1/audit"},
				{method: http.MethodGet, path: "/api/v1/reports"},
				{method: http.MethodPost, path: "/api/v1/reports/1/resolve", body: `{"note":"n"}`, contentType: jsonType},
				{method: http.MethodGet, path: "/api/v1/export"},
				{method: http.MethodPost, path: "/api/v1/imports", body: `{"from":"kutt","url":"https://kutt.example","api_key":"k"}`, contentType: jsonType},
				{method: http.MethodGet, path: "/api/v1/imports/0"},
				{method: http.MethodGet, path: target + "/stats"},
				{method: http.MethodGet, path: "/api/v1/tags"},
				{method: http.MethodPatch, path: target, body: `{"title":"x"}`, contentType: jsonType},
				{method: http.MethodPost, path: "/api/v1/links/bulk", body: `{"links":[{"url":"https://example.com/"}]}`, contentType: jsonType},
				{method: http.MethodGet, path: "/api/v1/domains"},
				{method: http.MethodPost, path: "/api/v1/domains", body: `{"host":"x.example"}`, contentType: jsonType},
				{method: http.MethodDelete, path: "/api/v1/domains/x.example"},
			} {
				k.header = []string{"Authorization", cr.authorization}
				// Creating needs no key, so the document cannot refuse
				// a create for the scheme of the one it sends.
				k.docRefuses = cr.docRefuses && !(k.method == http.MethodPost && k.path == "/api/v1/links")
				k.status, k.code = 401, cr.code
				c.do(t, srv.url, k)
			}
		}
		// Only creating works without a key.
		for _, k := range []contractCall{
			{method: http.MethodGet, path: "/api/v1/links"},
			{method: http.MethodGet, path: target},
			{method: http.MethodDelete, path: target},
			{method: http.MethodGet, path: "/api/v1/audit"},
			{method: http.MethodGet, path: "/api/v1/reports"},
			{method: http.MethodPost, path: "/api/v1/reports/1/resolve", body: `{"note":"n"}`, contentType: jsonType},
		} {
			k.docRefuses, k.status, k.code = true, 401, "unauthorized"
			c.do(t, srv.url, k)
		}
	})

	t.Run("scopes", func(t *testing.T) {
		target := "/api/v1/links/" + live.Code
		for _, k := range []contractCall{
			{method: http.MethodPost, path: "/api/v1/links", contentType: jsonType, body: `{"url":"https://example.com/"}`, key: reader, status: 403, code: "insufficient_scope"},
			{method: http.MethodDelete, path: target, key: reader, status: 403, code: "insufficient_scope"},
			{method: http.MethodGet, path: "/api/v1/links", key: writer, status: 403, code: "insufficient_scope"},
			{method: http.MethodGet, path: target, key: writer, status: 403, code: "insufficient_scope"},
			{method: http.MethodGet, path: "/api/v1/links", key: reader, status: 200},
			{method: http.MethodGet, path: "/api/v1/audit", key: owner, status: 403, code: "admin_required"},
			{method: http.MethodGet, path: "/api/v1/audit?limit=0", key: admin, docRefuses: true, status: 400, code: "invalid_limit"},
			{method: http.MethodGet, path: "/api/v1/audit?before=x", key: admin, docRefuses: true, status: 400, code: "invalid_before"},
			{method: http.MethodGet, path: "/api/v1/audit?target_id=3", key: admin, status: 400, code: "invalid_filter"},
		} {
			c.do(t, srv.url, k)
		}
		// The key made for the reader above is in the log.
		r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/audit?action=key.&limit=100", key: admin, status: 200})
		var page httpapi.AuditList
		r.decode(t, &page)
		if !slices.ContainsFunc(page.Entries, func(e httpapi.AuditEntryJSON) bool {
			return e.Action == "key.create" && e.Detail["name"] == "reader"
		}) {
			t.Errorf("the audit log does not show the reader key's creation: %s", r.body)
		}
	})

	t.Run("list", func(t *testing.T) {
		// A key of its own, so that its pages hold exactly these links.
		pager := srv.key(t, "pager", false)
		var want []string
		for i := range 5 {
			want = append(want, srv.create(t, pager, httpapi.CreateRequest{URL: fmt.Sprintf("https://example.com/page/%d", i)}).Code)
		}

		var got []httpapi.LinkJSON
		path := "/api/v1/links?limit=2"
		for pages := 1; ; pages++ {
			var page httpapi.LinkList
			c.do(t, srv.url, contractCall{method: http.MethodGet, path: path, key: pager, status: 200}).decode(t, &page)
			got = append(got, page.Links...)
			if page.NextCursor == nil {
				if pages != 3 {
					t.Errorf("5 links in pages of 2 took %d pages, want 3", pages)
				}
				break
			}
			if pages == 3 {
				t.Fatal("the third page of 5 links in pages of 2 has a next_cursor")
			}
			path = "/api/v1/links?limit=2&cursor=" + *page.NextCursor
		}
		var codes []string
		for i, l := range got {
			codes = append(codes, l.Code)
			if i > 0 && (l.CreatedAt.After(got[i-1].CreatedAt) || l.CreatedAt.Equal(got[i-1].CreatedAt) && l.Code > got[i-1].Code) {
				t.Errorf("%s comes after %s but is newer", l.Code, got[i-1].Code)
			}
		}
		slices.Sort(codes)
		slices.Sort(want)
		if !slices.Equal(codes, want) {
			t.Errorf("the pages hold %v, want %v", codes, want)
		}

		var all httpapi.LinkList
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links", key: pager, status: 200}).decode(t, &all)
		if len(all.Links) != 5 || all.NextCursor != nil {
			t.Errorf("the default page holds %d links and next_cursor %v, want all 5 and null", len(all.Links), all.NextCursor)
		}
		var others httpapi.LinkList
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links", key: other, status: 200}).decode(t, &others)
		if len(others.Links) != 0 {
			t.Errorf("a key that made no links lists %d", len(others.Links))
		}
		var everyone httpapi.LinkList
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links?limit=1000", key: admin, status: 200}).decode(t, &everyone)
		for _, code := range want {
			if !slices.ContainsFunc(everyone.Links, func(l httpapi.LinkJSON) bool { return l.Code == code }) {
				t.Errorf("the admin key does not list %s", code)
			}
		}

		for _, k := range []contractCall{
			{path: "/api/v1/links?limit=0", docRefuses: true, code: "invalid_limit"},
			{path: "/api/v1/links?limit=ten", docRefuses: true, code: "invalid_limit"},
			{path: "/api/v1/links?limit=1001", docRefuses: true, code: "invalid_limit"},
			{path: "/api/v1/links?cursor=%21%21", docRefuses: true, code: "invalid_cursor"},
			{path: "/api/v1/links?cursor=Zm9v", code: "invalid_cursor"}, // base64 of "foo"
		} {
			k.method, k.key, k.status = http.MethodGet, pager, 400
			c.do(t, srv.url, k)
		}
	})

	t.Run("export", func(t *testing.T) {
		r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/export", key: admin, status: 200})
		if !bytes.Contains(r.body, []byte("https://example.com/live,"+live.Code+",")) || !bytes.HasPrefix(r.body, []byte("url,code,")) {
			t.Errorf("CSV export lacks %s: %.300s", live.Code, r.body)
		}
		r = c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/export?format=jsonl", key: admin, status: 200})
		if !bytes.Contains(r.body, []byte(`"code":"`+live.Code+`"`)) {
			t.Errorf("JSON Lines export lacks %s: %.300s", live.Code, r.body)
		}
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/export?format=xml", key: admin, docRefuses: true, status: 400, code: "invalid_format"})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/export", key: owner, status: 403, code: "admin_required"})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/export", docRefuses: true, status: 401, code: "unauthorized"})
	})

	t.Run("imports", func(t *testing.T) {
		file := "url,code\nhttps://example.com/imported,imported\nftp://example.com/x,refused\n"
		r := c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/imports?from=csv", key: admin,
			contentType: "text/csv", body: file, status: 202})
		var job httpapi.ImportJobJSON
		r.decode(t, &job)
		if got := r.header.Get("Location"); got != "/api/v1/imports/"+job.ID || job.From != "csv" {
			t.Errorf("started %+v at %q", job, got)
		}
		// The import runs in the background: follow it to its end.
		for deadline := time.Now().Add(20 * time.Second); job.State != "done"; {
			if job.State == "failed" || time.Now().After(deadline) {
				t.Fatalf("import job: %+v", job)
			}
			time.Sleep(50 * time.Millisecond)
			c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/imports/" + job.ID, key: admin, status: 200}).decode(t, &job)
		}
		if s := job.Summary; s.Read != 2 || s.Imported != 1 || s.Invalid != 1 || len(job.Problems) != 1 ||
			job.Problems[0].Reason != "url_scheme_not_allowed" || job.Problems[0].Ref != "line 3" || job.FinishedAt == nil {
			t.Errorf("finished job: %+v", job)
		}
		c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/imports", key: admin, contentType: jsonType,
			body: `{"from":"kutt","url":"http://127.0.0.1:1","api_key":"k","dry_run":true}`, status: 202})
		c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/imports", key: admin, contentType: jsonType,
			body: `{"from":"yourls","api_key":"k"}`, docRefuses: true, status: 400, code: "invalid_source"})
		c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/imports", key: admin, contentType: jsonType,
			body: `{"from":"shlink","api_key":"k"}`, status: 400, code: "invalid_source"})
		c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/imports", key: admin, contentType: jsonType,
			body: `{"from":`, docRefuses: true, status: 400, code: "malformed_json"})
		c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/imports?from=csv", key: owner,
			contentType: "text/csv", body: file, status: 403, code: "admin_required"})
		c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/imports?from=csv",
			contentType: "text/csv", body: file, docRefuses: true, status: 401, code: "unauthorized"})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/imports/" + job.ID, key: owner, status: 403, code: "admin_required"})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/imports/nope", key: admin, status: 404, code: "import_not_found"})
	})

	t.Run("get and delete", func(t *testing.T) {
		var l httpapi.LinkJSON
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/" + live.Code, key: owner, status: 200}).decode(t, &l)
		if l.Code != live.Code || l.URL != live.URL || !l.CreatedAt.Equal(live.CreatedAt) || l.ExpiresAt != nil {
			t.Errorf("GET gives %+v, create gave %+v", l, live)
		}
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/" + live.Code, key: admin, status: 200})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/" + live.Code, key: other, status: 404, code: "not_found"})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/Zz9Zz9Z", key: owner, status: 404, code: "not_found"})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/ab", key: owner, docRefuses: true, status: 404, code: "not_found"})
		c.do(t, srv.url, contractCall{method: http.MethodDelete, path: "/api/v1/links/" + live.Code, key: other, status: 404, code: "not_found"})

		doomed := srv.create(t, owner, httpapi.CreateRequest{URL: "https://example.com/doomed", Alias: "doomed"})
		c.do(t, srv.url, contractCall{method: http.MethodDelete, path: "/api/v1/links/" + doomed.Code, key: owner, status: 204})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/" + doomed.Code, key: owner, status: 404, code: "not_found"})
		c.do(t, srv.url, contractCall{method: http.MethodDelete, path: "/api/v1/links/" + doomed.Code, key: owner, status: 404, code: "not_found"})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/" + doomed.Code, status: 404, code: "not_found"})
		// A deleted link's code is never issued again.
		c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/links", contentType: jsonType,
			body: `{"url":"https://example.com/again","alias":"doomed"}`, status: 409, code: "alias_taken"})
	})

	t.Run("redirect", func(t *testing.T) {
		l := srv.create(t, "", httpapi.CreateRequest{URL: "https://Example.COM/Path/To?q=a%20b&x=1#frag"})
		const stored = "https://example.com/Path/To?q=a%20b&x=1#frag"
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			r := c.do(t, srv.url, contractCall{method: method, path: "/" + l.Code, status: 302})
			if got := r.header.Get("Location"); got != stored {
				t.Errorf("%s: Location %q, want %q", method, got, stored)
			}
			if want := config.Default().CacheControl; r.header.Get("Cache-Control") != want {
				t.Errorf("%s: Cache-Control %q, want %q", method, r.header.Get("Cache-Control"), want)
			}
			c.do(t, srv.url, contractCall{method: method, path: "/Zz9Zz9Z", status: 404})
		}
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/Zz9Zz9Z", status: 404, code: "not_found"})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/favicon.ico", docRefuses: true, status: 404, code: "not_found"})

		r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/Zz9Zz9Z", header: []string{"Accept", "text/html"}, status: 404})
		want := jsonType
		if pagesWired {
			want = "text/html"
		}
		if got := r.header.Get("Content-Type"); !strings.HasPrefix(got, want) {
			t.Errorf("a browser's 404 has Content-Type %q, want %s", got, want)
		}
	})

	t.Run("expired", func(t *testing.T) {
		waitExpired()
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/" + expiring.Code, status: 410, code: "link_expired"})
		c.do(t, srv.url, contractCall{method: http.MethodHead, path: "/" + expiring.Code, status: 410})
		c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/" + expiring.Code, contentType: formType, body: "password=x", status: 410, code: "link_expired"})
		if pagesWired {
			c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/" + expiring.Code + "+", status: 410})
			// An expired link can still be reported.
			c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/report/" + expiring.Code, status: 200})
		}
		// Its owner still sees it.
		var l httpapi.LinkJSON
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/" + expiring.Code, key: owner, status: 200}).decode(t, &l)
		if l.ExpiresAt == nil || l.ExpiresAt.After(time.Now()) {
			t.Errorf("an expired link shows expires_at %v", l.ExpiresAt)
		}
	})

	t.Run("qr", func(t *testing.T) {
		if !qrWired {
			c.skip(t, qrMissing, qrOp)
		}
		base := "/api/v1/links/" + live.Code + "/qr"
		for _, tt := range []struct {
			query string
			size  int
		}{{"", httpapi.DefaultQRSize}, {"?format=png&size=128", 128}} {
			r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: base + tt.query, status: 200})
			cfg, err := png.DecodeConfig(bytes.NewReader(r.body))
			if err != nil || cfg.Width != tt.size || cfg.Height != tt.size {
				t.Errorf("GET %s%s: %dx%d PNG (%v), want %dx%d", base, tt.query, cfg.Width, cfg.Height, err, tt.size, tt.size)
			}
		}
		r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: base + "?format=svg", status: 200})
		if !bytes.Contains(r.body, []byte("<svg")) || r.header.Get("Content-Type") != "image/svg+xml" {
			t.Errorf("format=svg gives %q: %.60s", r.header.Get("Content-Type"), r.body)
		}
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: base + "?format=svg", header: []string{"If-None-Match", r.header.Get("ETag")}, status: 304})

		for _, k := range []contractCall{
			{path: base + "?size=10", docRefuses: true, status: 400, code: "invalid_size"},
			{path: base + "?size=4096", docRefuses: true, status: 400, code: "invalid_size"},
			{path: base + "?size=big", docRefuses: true, status: 400, code: "invalid_size"},
			{path: base + "?format=gif", docRefuses: true, status: 400, code: "invalid_format"},
			{path: "/api/v1/links/Zz9Zz9Z/qr", status: 404, code: "not_found"},
		} {
			k.method = http.MethodGet
			c.do(t, srv.url, k)
		}
		waitExpired()
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/" + expiring.Code + "/qr", status: 410, code: "link_expired"})
	})

	t.Run("stats", func(t *testing.T) {
		base := "/api/v1/links/" + live.Code + "/stats"
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: live.ShortURL[len(srv.url):], status: 302})
		for _, k := range []contractCall{
			{path: base, key: owner, status: 200},
			{path: base + "?interval=hour&from=2030-01-01T00:00:00Z&to=2030-01-02T00:00:00Z", key: admin, status: 200},
			{path: base + "?interval=week", key: owner, docRefuses: true, status: 400, code: "invalid_interval"},
			{path: base + "?from=yesterday", key: owner, docRefuses: true, status: 400, code: "invalid_from"},
			{path: base + "?to=tomorrow", key: owner, docRefuses: true, status: 400, code: "invalid_to"},
			{path: base + "?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", key: owner, status: 400, code: "invalid_from"},
			{path: base, docRefuses: true, status: 401, code: "unauthorized"},
			{path: base, key: other, status: 404, code: "not_found"},
			{path: "/api/v1/links/Zz9Zz9Z/stats", key: owner, status: 404, code: "not_found"},
		} {
			k.method = http.MethodGet
			c.do(t, srv.url, k)
		}
		off := startContractApp(t, func(c *config.Config) { c.Analytics = false })
		key := off.key(t, "off", false)
		l := off.create(t, key, httpapi.CreateRequest{URL: "https://example.com/off"})
		c.do(t, off.url, contractCall{method: http.MethodGet, path: "/api/v1/links/" + l.Code + "/stats", key: key, status: 404, code: "analytics_off"})
	})

	t.Run("operations", func(t *testing.T) {
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/openapi.yaml", status: 200})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/healthz", status: 200})
		r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/readyz", status: 200})
		if !bytes.Contains(r.body, []byte(`"database":{"status":"up"`)) {
			t.Errorf("/readyz does not report the database up: %s", r.body)
		}
		r = c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/metrics", status: 200})
		if !bytes.Contains(r.body, []byte(`shortlinks_http_requests_total{method="POST",route="POST /api/v1/links",status="2xx"}`)) {
			t.Error("/metrics does not count requests by route")
		}
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/robots.txt", status: 200})
	})

	t.Run("web page", func(t *testing.T) {
		if !pagesWired {
			c.skip(t, pagesMissing, homeOp, shortenOp)
		}
		browser := []string{"Accept", "text/html"}
		r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/", header: browser, status: 200})
		if !bytes.Contains(r.body, []byte(`<form id="shorten" method="post" action="/"`)) {
			t.Errorf("the home page has no form posting to /: %.200s", r.body)
		}
		for _, k := range []contractCall{
			{body: "url=https%3A%2F%2Fexample.com%2Fweb&alias=&expires_in=86400", status: 201},
			{body: "url=ftp%3A%2F%2Fexample.com%2F", status: 400},
			{body: "url=https%3A%2F%2Fexample.com%2F&expires_in=5", docRefuses: true, status: 400},
			{body: "url=https%3A%2F%2Fexample.com%2F&alias=launch-2030", status: 409},
			{body: "url=https%3A%2F%2Fexample.com%2F" + strings.Repeat("a", 64<<10), status: 413},
			{body: "url=https%3A%2F%2Fexample.com%2F", header: []string{"Sec-Fetch-Site", "cross-site"}, status: 403},
		} {
			k.method, k.path, k.contentType = http.MethodPost, "/", formType
			k.header = append(k.header, browser...)
			r := c.do(t, srv.url, k)
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("%s: Content-Type %q, want a page", k, ct)
			}
		}
	})

	t.Run("redirect status setting", func(t *testing.T) {
		for _, status := range []int{301, 307, 308} {
			s := startContractApp(t, func(c *config.Config) { c.RedirectStatus = status })
			l := s.create(t, "", httpapi.CreateRequest{URL: "https://example.com/moved"})
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				r := c.do(t, s.url, contractCall{method: method, path: "/" + l.Code, status: status})
				if got := r.header.Get("Location"); got != l.URL {
					t.Errorf("%s %d: Location %q, want %q", method, status, got, l.URL)
				}
			}
		}
	})

	t.Run("required key and rate limit", func(t *testing.T) {
		s := startContractApp(t, func(c *config.Config) {
			c.RequireAPIKey, c.CreateRate, c.CreateBurst = true, 0.001, 1
		})
		key := s.key(t, "limited", false)
		// The limiter counts the refused request too, so the next one is
		// over the limit.
		c.do(t, s.url, contractCall{method: http.MethodPost, path: "/api/v1/links", contentType: jsonType,
			body: `{"url":"https://example.com/"}`, status: 401, code: "unauthorized"})
		r := c.do(t, s.url, contractCall{method: http.MethodPost, path: "/api/v1/links", contentType: jsonType, key: key,
			body: `{"url":"https://example.com/"}`, status: 429, code: "rate_limited"})
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("Retry-After %q, want a whole number of seconds", r.header.Get("Retry-After"))
		}
		// A bulk create spends one token per link.
		c.do(t, s.url, contractCall{method: http.MethodPost, path: "/api/v1/links/bulk", contentType: jsonType, key: key,
			body: `{"links":[{"url":"https://example.com/a"},{"url":"https://example.com/b"}]}`, status: 429, code: "rate_limited"})
		if pagesWired {
			c.do(t, s.url, contractCall{method: http.MethodPost, path: "/", contentType: formType,
				body: "url=https%3A%2F%2Fexample.com%2F", status: 429, code: "rate_limited"})
			c.do(t, s.url, contractCall{method: http.MethodPost, path: "/", contentType: formType, header: []string{"Accept", "text/html"},
				body: "url=https%3A%2F%2Fexample.com%2F", status: 429})
		}
	})

	t.Run("reports", func(t *testing.T) {
		huge := `{"code":"` + strings.Repeat("a", httpapi.MaxBodyBytes) + `","reason":"spam"}`
		var first httpapi.ReportReceipt
		for _, k := range []contractCall{
			{body: `{"code":"` + live.Code + `","reason":"phishing","details":"Asks for my bank PIN.","contact":"me@example.org"}`, status: 201},
			{body: `{"code":"` + srv.url + `/` + live.Code + `+","reason":"other","details":"A fake shop."}`, status: 201},
			{body: `{"code":"Zz9Zz9Z","reason":"spam"}`, status: 404, code: "not_found"},
			{body: `{"reason":"spam"}`, docRefuses: true, status: 400, code: "missing_code"},
			{body: `{"code":"` + live.Code + `","reason":"ugly"}`, docRefuses: true, status: 400, code: "invalid_reason"},
			{body: `{"code":"` + live.Code + `","reason":"spam","details":"` + strings.Repeat("x", 2001) + `"}`, docRefuses: true, status: 400, code: "invalid_details"},
			{body: `{"code":"` + live.Code + `","reason":"spam","details":"evil\u202egnp.exe"}`, status: 400, code: "invalid_details"},
			{body: `{"code":"` + live.Code + `","reason":"other"}`, status: 400, code: "missing_details"},
			{body: `{"code":"` + live.Code + `","reason":"spam","contact":"a\u0007b"}`, status: 400, code: "invalid_contact"},
			{body: `{"code":`, docRefuses: true, status: 400, code: "malformed_json"},
			{body: `{"code":"x","reason":"spam","url":"y"}`, docRefuses: true, status: 400, code: "unknown_field"},
			{body: `{"code":"x","reason":5}`, docRefuses: true, status: 400, code: "invalid_field_type"},
			{body: huge, status: 413, code: "body_too_large"},
			{body: `{"code":"x","reason":"spam"}`, contentType: "text/plain", docRefuses: true, status: 415, code: "unsupported_media_type"},
		} {
			k.method, k.path = http.MethodPost, "/api/v1/reports"
			if k.contentType == "" {
				k.contentType = jsonType
			}
			r := c.do(t, srv.url, k)
			if r.status == 201 && first.ID == 0 {
				r.decode(t, &first)
			}
		}
		if first.Code != live.Code || first.Status != "open" {
			t.Fatalf("first report = %+v", first)
		}

		reports := "/api/v1/reports"
		r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: reports, key: admin, status: 200})
		var open httpapi.ReportList
		r.decode(t, &open)
		if len(open.Reports) != 2 || open.Reports[1].ID != first.ID || open.Reports[1].Contact != "me@example.org" ||
			open.Reports[0].Details != "A fake shop." || open.Reports[0].Code != live.Code {
			t.Errorf("open reports = %s", r.body)
		}
		resolve := fmt.Sprintf("/api/v1/reports/%d/resolve", first.ID)
		for _, k := range []contractCall{
			{method: http.MethodGet, path: reports + "?status=all&limit=1", key: admin, status: 200},
			{method: http.MethodGet, path: reports + "?status=bogus", key: admin, docRefuses: true, status: 400, code: "invalid_status"},
			{method: http.MethodGet, path: reports + "?limit=0", key: admin, docRefuses: true, status: 400, code: "invalid_limit"},
			{method: http.MethodGet, path: reports + "?before=0", key: admin, docRefuses: true, status: 400, code: "invalid_before"},
			{method: http.MethodGet, path: reports, key: owner, status: 403, code: "admin_required"},
			{method: http.MethodPost, path: resolve, key: owner, body: `{"note":"mine now"}`, status: 403, code: "admin_required"},
			{method: http.MethodPost, path: resolve, key: admin, body: `{"note":""}`, docRefuses: true, status: 400, code: "invalid_note"},
			{method: http.MethodPost, path: resolve, key: admin, body: `{"note":"  "}`, status: 400, code: "invalid_note"},
			{method: http.MethodPost, path: resolve, key: admin, body: `{"note":`, docRefuses: true, status: 400, code: "malformed_json"},
			{method: http.MethodPost, path: resolve, key: admin, body: `{"note":"x","why":"y"}`, docRefuses: true, status: 400, code: "unknown_field"},
			{method: http.MethodPost, path: resolve, key: admin, body: `{"note":5}`, docRefuses: true, status: 400, code: "invalid_field_type"},
			{method: http.MethodPost, path: resolve, key: admin, body: `{"note":"` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}`, docRefuses: true, status: 413, code: "body_too_large"},
			{method: http.MethodPost, path: resolve, key: admin, body: `{"note":"x"}`, contentType: "text/plain", docRefuses: true, status: 415, code: "unsupported_media_type"},
			{method: http.MethodPost, path: "/api/v1/reports/999999/resolve", key: admin, body: `{"note":"x"}`, status: 404, code: "report_not_found"},
			{method: http.MethodPost, path: resolve, key: admin, body: `{"note":"Phishing page; link disabled."}`, status: 200},
			{method: http.MethodPost, path: resolve, key: admin, body: `{"note":"again"}`, status: 409, code: "report_resolved"},
		} {
			if k.method == http.MethodPost && k.contentType == "" {
				k.contentType = jsonType
			}
			c.do(t, srv.url, k)
		}
		r = c.do(t, srv.url, contractCall{method: http.MethodGet, path: reports + "?status=resolved", key: admin, status: 200})
		var done httpapi.ReportList
		r.decode(t, &done)
		if len(done.Reports) != 1 || done.Reports[0].Note == nil || *done.Reports[0].Note != "Phishing page; link disabled." ||
			done.Reports[0].ResolvedByKeyID == nil || done.Reports[0].Status != "resolved" {
			t.Errorf("resolved reports = %s", r.body)
		}
		r = c.do(t, srv.url, contractCall{method: http.MethodGet, path: fmt.Sprintf("/api/v1/audit?target_type=report&target_id=%d", first.ID), key: admin, status: 200})
		var log httpapi.AuditList
		r.decode(t, &log)
		if len(log.Entries) != 1 || log.Entries[0].Action != "report.resolve" || log.Entries[0].ActorKeyID == nil ||
			log.Entries[0].Detail["note"] != "Phishing page; link disabled." {
			t.Errorf("the resolution's audit entry: %s", r.body)
		}
	})

	t.Run("preview and report pages", func(t *testing.T) {
		if !pagesWired {
			c.skip(t, pagesMissing, "GET /{code}+", "GET /report/{code}", "POST /report/{code}")
		}
		r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/" + live.Code + "+", status: 200})
		if !bytes.Contains(r.body, []byte(`<code id="destination">https://example.com/live</code>`)) ||
			!bytes.Contains(r.body, []byte(`href="/report/`+live.Code+`"`)) {
			t.Errorf("the preview does not show the destination and the report link: %s", r.body)
		}
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/Zz9Zz9Z+", status: 404})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/report/" + live.Code, status: 200})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/report/Zz9Zz9Z", status: 404})
		same := []string{"Sec-Fetch-Site", "same-origin"}
		for _, k := range []contractCall{
			{path: "/report/" + live.Code, body: "reason=malware&details=It+downloads+an+exe", status: 201},
			{path: "/report/" + live.Code, body: "reason=ugly", status: 400},
			{path: "/report/Zz9Zz9Z", body: "reason=spam", status: 404},
			{path: "/report/" + live.Code, body: "reason=spam&details=" + strings.Repeat("a", 64<<10), status: 413},
			{path: "/report/" + live.Code, body: "reason=spam", header: []string{"Sec-Fetch-Site", "cross-site"}, status: 403},
		} {
			k.method, k.contentType = http.MethodPost, formType
			if k.header == nil {
				k.header = same
			}
			c.do(t, srv.url, k)
		}
	})

	t.Run("report rate limit", func(t *testing.T) {
		s := startContractApp(t, func(c *config.Config) { c.ReportRate, c.ReportBurst = 0.001, 1 })
		l := s.create(t, "", httpapi.CreateRequest{URL: "https://example.com/reported"})
		body := `{"code":"` + l.Code + `","reason":"spam"}`
		c.do(t, s.url, contractCall{method: http.MethodPost, path: "/api/v1/reports", contentType: jsonType, body: body, status: 201})
		r := c.do(t, s.url, contractCall{method: http.MethodPost, path: "/api/v1/reports", contentType: jsonType, body: body, status: 429, code: "rate_limited"})
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("Retry-After %q, want a whole number of seconds", r.header.Get("Retry-After"))
		}
		if pagesWired {
			// The page and the API share the budget.
			c.do(t, s.url, contractCall{method: http.MethodPost, path: "/report/" + l.Code, contentType: formType,
				header: []string{"Sec-Fetch-Site", "same-origin"}, body: "reason=spam", status: 429})
		}
	})

	t.Run("key rate limit", func(t *testing.T) {
		s := startContractApp(t, func(c *config.Config) { c.KeyCreateRate, c.KeyCreateBurst = 0.001, 1 })
		key := s.key(t, "limited", false)
		call := contractCall{method: http.MethodPost, path: "/api/v1/links", contentType: jsonType, key: key,
			body: `{"url":"https://example.com/"}`, status: 201}
		c.do(t, s.url, call)
		call.status, call.code = 429, "key_rate_limited"
		r := c.do(t, s.url, call)
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("Retry-After %q, want a whole number of seconds", r.header.Get("Retry-After"))
		}
		// Another key, from the same address, has its own budget.
		call.key, call.status, call.code = s.key(t, "other", false), 201, ""
		c.do(t, s.url, call)
	})

	t.Run("blocklist", func(t *testing.T) {
		list := filepath.Join(t.TempDir(), "phish.txt")
		if err := os.WriteFile(list, []byte("evil.example\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s := startContractApp(t, func(c *config.Config) { c.Blocklists = []string{list} })
		c.do(t, s.url, contractCall{method: http.MethodPost, path: "/api/v1/links", contentType: jsonType,
			body: `{"url":"https://login.evil.example/"}`, status: 400, code: "url_blocked"})
	})

	t.Run("two authorization headers", func(t *testing.T) {
		two := []string{"Authorization", "Bearer " + owner, "Authorization", "Bearer " + other}
		for _, k := range []contractCall{
			{method: http.MethodPost, path: "/api/v1/links", contentType: jsonType, body: `{"url":"https://example.com/"}`},
			{method: http.MethodGet, path: "/api/v1/links"},
			{method: http.MethodGet, path: "/api/v1/links/" + live.Code},
			{method: http.MethodDelete, path: "/api/v1/links/" + live.Code},
		} {
			k.header, k.status, k.code = two, 400, "duplicate_header"
			c.do(t, srv.url, k)
		}
	})

	t.Run("qr rate limit", func(t *testing.T) {
		if !qrWired {
			c.skip(t, qrMissing, qrOp)
		}
		s := startContractApp(t, func(c *config.Config) { c.QRRate, c.QRBurst = 0.001, 1 })
		l := s.create(t, "", httpapi.CreateRequest{URL: "https://example.com/qr"})
		c.do(t, s.url, contractCall{method: http.MethodGet, path: "/api/v1/links/" + l.Code + "/qr", status: 200})
		c.do(t, s.url, contractCall{method: http.MethodGet, path: "/api/v1/links/" + l.Code + "/qr", status: 429, code: "rate_limited"})
	})

	t.Run("storage closed", func(t *testing.T) {
		s := startContractApp(t)
		key := s.key(t, "closed", false)
		closedAdmin := s.key(t, "closed-admin", true)
		l := s.create(t, key, httpapi.CreateRequest{URL: "https://example.com/closed"})
		if err := s.app.Close(); err != nil {
			t.Fatal(err)
		}
		for _, k := range []contractCall{
			{method: http.MethodPost, path: "/api/v1/links", contentType: jsonType, body: `{"url":"https://example.com/"}`},
			{method: http.MethodGet, path: "/api/v1/links", key: key},
			{method: http.MethodGet, path: "/api/v1/links/" + l.Code, key: key},
			{method: http.MethodGet, path: "/api/v1/links/" + l.Code + "/stats", key: key},
			{method: http.MethodDelete, path: "/api/v1/links/" + l.Code, key: key},
			{method: http.MethodGet, path: "/api/v1/export", key: key},
			{method: http.MethodGet, path: "/api/v1/audit", key: closedAdmin},
			{method: http.MethodPost, path: "/api/v1/reports", contentType: jsonType, body: `{"code":"` + l.Code + `","reason":"spam"}`},
			{method: http.MethodGet, path: "/api/v1/reports", key: closedAdmin},
			{method: http.MethodPost, path: "/api/v1/reports/1/resolve", contentType: jsonType, body: `{"note":"n"}`, key: closedAdmin},
			{method: http.MethodPatch, path: "/api/v1/links/" + l.Code, key: key, contentType: jsonType, body: `{"title":"x"}`},
			{method: http.MethodPost, path: "/api/v1/links/bulk", key: key, contentType: jsonType, body: `{"links":[{"url":"https://example.com/"}]}`},
			{method: http.MethodGet, path: "/api/v1/tags", key: key},
			{method: http.MethodGet, path: "/api/v1/domains", key: key},
			{method: http.MethodPost, path: "/api/v1/domains", key: closedAdmin, contentType: jsonType, body: `{"host":"closed.example"}`},
			{method: http.MethodDelete, path: "/api/v1/domains/closed.example", key: closedAdmin},
			{method: http.MethodGet, path: "/Zz9Zz9Z"}, // not cached
			{method: http.MethodHead, path: "/Zz9Zz9Z"},
			{method: http.MethodPost, path: "/Zz9Zz9Z", contentType: formType, body: "password=x"},
		} {
			k.status = 500
			if k.method != http.MethodHead {
				k.code = "internal"
			}
			c.do(t, s.url, k)
		}
		if qrWired {
			c.do(t, s.url, contractCall{method: http.MethodGet, path: "/api/v1/links/Zz9Zz9Z/qr", status: 500, code: "internal"})
		}
		if pagesWired {
			c.do(t, s.url, contractCall{method: http.MethodPost, path: "/", contentType: formType, body: "url=https%3A%2F%2Fexample.com%2F", status: 500})
			c.do(t, s.url, contractCall{method: http.MethodGet, path: "/Zz9Zz9Z", header: []string{"Accept", "text/html"}, status: 500})
			c.do(t, s.url, contractCall{method: http.MethodGet, path: "/Zz9Zz9Z+", status: 500})
			c.do(t, s.url, contractCall{method: http.MethodGet, path: "/report/Zz9Zz9Z", status: 500})
			c.do(t, s.url, contractCall{method: http.MethodPost, path: "/report/" + l.Code, contentType: formType, body: "reason=spam", status: 500})
		}
		r := c.do(t, s.url, contractCall{method: http.MethodGet, path: "/readyz", status: 503})
		if !bytes.Contains(r.body, []byte(`"status":"not_ready"`)) {
			t.Errorf("/readyz with the database closed: %s", r.body)
		}
	})

	t.Run("storage unavailable", func(t *testing.T) {
		// SQLite in WAL mode cannot be made to fail reads on demand, so this
		// server has an engine that reports an outage the way the real ones
		// do, behind the real link and key services.
		var down downEngine
		links := link.NewService(down, down, down, link.Options{Reserved: routes.ReservedPaths(), Editor: down})
		log := slog.New(slog.NewTextHandler(t.Output(), nil))
		reports := report.New(down, links, report.Options{})
		pages, err := web.New(links, log, web.Options{BaseURL: "https://sho.rt", QRURL: routes.QRURL, Resolver: links, Reports: reports})
		if err != nil {
			t.Fatal(err)
		}
		errs := edge.NewRenderer(log, pages, routes.APIPrefix)
		api := httpapi.New(links, srv.app.Keys(), log, httpapi.Options{BaseURL: "https://sho.rt", QR: qr.New(), Errors: errs,
			Audit: audit.New(down, nil, log), Reports: reports, Domains: link.NewDomains(down, "https://sho.rt", nil)})
		h := edge.New(log, edge.Options{}).Wrap(routes.New(api, log, routes.Options{Pages: pages, Errors: errs}))
		ts := httptest.NewServer(h)
		t.Cleanup(ts.Close)
		for _, k := range []contractCall{
			{method: http.MethodPost, path: "/api/v1/links", contentType: jsonType, body: `{"url":"https://example.com/"}`},
			{method: http.MethodGet, path: "/api/v1/links", key: owner},
			{method: http.MethodGet, path: "/api/v1/links/" + live.Code, key: owner},
			{method: http.MethodGet, path: "/api/v1/links/" + live.Code + "/stats", key: owner},
			{method: http.MethodDelete, path: "/api/v1/links/" + live.Code, key: owner},
			{method: http.MethodGet, path: "/api/v1/export", key: admin},
			{method: http.MethodGet, path: "/api/v1/audit", key: admin},
			{method: http.MethodPost, path: "/api/v1/reports", contentType: jsonType, body: `{"code":"` + live.Code + `","reason":"spam"}`},
			{method: http.MethodGet, path: "/api/v1/reports", key: admin},
			{method: http.MethodPost, path: "/api/v1/reports/1/resolve", contentType: jsonType, body: `{"note":"n"}`, key: admin},
			{method: http.MethodPatch, path: "/api/v1/links/" + live.Code, key: owner, contentType: jsonType, body: `{"title":"x"}`},
			{method: http.MethodPost, path: "/api/v1/links/bulk", key: owner, contentType: jsonType, body: `{"links":[{"url":"https://example.com/"}]}`},
			{method: http.MethodGet, path: "/api/v1/tags", key: owner},
			{method: http.MethodGet, path: "/api/v1/domains", key: owner},
			{method: http.MethodPost, path: "/api/v1/domains", key: admin, contentType: jsonType, body: `{"host":"down.example"}`},
			{method: http.MethodDelete, path: "/api/v1/domains/down.example", key: admin},
			{method: http.MethodGet, path: "/api/v1/links/" + live.Code + "/qr"},
			{method: http.MethodGet, path: "/" + live.Code},
			{method: http.MethodHead, path: "/" + live.Code},
			{method: http.MethodGet, path: "/" + live.Code, header: []string{"Accept", "text/html"}},
			{method: http.MethodPost, path: "/", contentType: formType, body: "url=https%3A%2F%2Fexample.com%2F"},
			{method: http.MethodGet, path: "/" + live.Code + "+"},
			{method: http.MethodGet, path: "/report/" + live.Code},
			{method: http.MethodPost, path: "/report/" + live.Code, contentType: formType, body: "reason=spam"},
			{method: http.MethodPost, path: "/" + live.Code, contentType: formType, body: "password=x"},
		} {
			k.status = 503
			if k.method != http.MethodHead && k.header == nil && k.path != "/" && strings.HasPrefix(k.path, "/api/") {
				k.code = "storage_unavailable"
			}
			r := c.do(t, ts.URL, k)
			if r.header.Get("Retry-After") == "" && strings.HasPrefix(k.path, "/api/") {
				t.Errorf("%s: 503 without Retry-After", k)
			}
		}
	})

	t.Run("edit, tags, bulk", func(t *testing.T) { editCases(t, c, srv, owner, other) })
	t.Run("domains", func(t *testing.T) { domainCases(t, c, srv, owner, admin) })

	t.Run("every documented answer was seen", func(t *testing.T) {
		if top.Failed() {
			t.Skip("earlier cases failed")
		}
		c.checkCoverage(t)
	})
}

// answers reports whether a plain GET of path succeeds.
func (s *contractServer) answers(t *testing.T, path string) bool {
	t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// downEngine is a storage engine that cannot be reached: every call fails
// with link.ErrUnavailable, wrapped as the engines wrap it.
type downEngine struct{}

var errEngineDown = fmt.Errorf("connect: connection refused: %w", link.ErrUnavailable)

func (downEngine) Insert(context.Context, link.Link) (int64, error) { return 0, errEngineDown }
func (downEngine) Get(context.Context, link.Code) (link.Link, error) {
	return link.Link{}, errEngineDown
}
func (downEngine) Delete(context.Context, link.Code) error { return errEngineDown }
func (downEngine) List(context.Context, link.ListQuery) ([]link.Link, error) {
	return nil, errEngineDown
}
func (downEngine) Next(context.Context) (link.Code, error) { return "", errEngineDown }

func (downEngine) AppendAudit(context.Context, audit.Entry) (int64, error) { return 0, errEngineDown }
func (downEngine) ListAudit(context.Context, audit.Filter, audit.Page) ([]audit.Entry, error) {
	return nil, errEngineDown
}

func (downEngine) CreateReport(context.Context, report.Report) (report.Report, error) {
	return report.Report{}, errEngineDown
}
func (downEngine) ListReports(context.Context, report.Status, int64, int) ([]report.Report, error) {
	return nil, errEngineDown
}
func (downEngine) ResolveReport(context.Context, int64, report.Resolution) (report.Report, error) {
	return report.Report{}, errEngineDown
}

func (downEngine) Find(context.Context, link.Code) (link.Link, error) {
	return link.Link{}, errEngineDown
}
func (downEngine) Update(context.Context, link.Code, func(*link.Link) error) (link.Link, link.Link, error) {
	return link.Link{}, link.Link{}, errEngineDown
}
func (downEngine) Tags(context.Context, link.ListQuery) ([]link.TagCount, error) {
	return nil, errEngineDown
}
func (downEngine) LinksTo(context.Context, []string) ([]link.Link, error) { return nil, errEngineDown }
