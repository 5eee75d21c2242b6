package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
)

const mergePatchType = "application/merge-patch+json"

// readOnlyKey makes an ownerless key that may read links but not change them.
func (s *contractServer) readOnlyKey(t *testing.T) string {
	t.Helper()
	admin := link.Principal{Admin: true, Scopes: link.AllScopes}
	_, token, err := s.app.Keys().Issue(t.Context(), admin, apikey.IssueParams{Name: "reader", Scopes: link.ScopeLinksRead})
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// editCases drives link options, PATCH, tags and bulk creation.
func editCases(t *testing.T, c *contract, srv *contractServer, owner, other string) {
	reader := srv.readOnlyKey(t)
	post := func(body string, docRefuses bool, status int, code string) contractResponse {
		t.Helper()
		return c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/links", key: owner, contentType: jsonType,
			body: body, docRefuses: docRefuses, status: status, code: code})
	}

	// Create with every option; the answer shows them, but never the password.
	var opts httpapi.LinkJSON
	r := post(`{"url":"https://example.com/app","alias":"opts-app","title":"App launch","tags":["Mobile"," launch ","mobile"],`+
		`"max_visits":5,"password":"s3cret","forward_query":true,"valid_from":"2020-01-01T00:00:00Z",`+
		`"rules":[{"when":{"device":"ios"},"url":"https://Apps.example/app"}]}`, false, 201, "")
	r.decode(t, &opts)
	if opts.Title == nil || *opts.Title != "App launch" || !slices.Equal(opts.Tags, []string{"launch", "mobile"}) ||
		opts.MaxVisits == nil || *opts.MaxVisits != 5 || !opts.PasswordProtected || !opts.ForwardQuery || opts.ValidFrom == nil ||
		len(opts.Rules) != 1 || opts.Rules[0].URL != "https://apps.example/app" || opts.Disabled {
		t.Errorf("create with options gave %+v", opts)
	}
	if strings.Contains(string(r.body), "s3cret") || strings.Contains(string(r.body), "argon2") {
		t.Errorf("the answer shows the password: %s", r.body)
	}
	// The redirect asks for the password: programs get 401, browsers a
	// page; the right password redirects with 303, a wrong one is 401.
	c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/opts-app", status: 401, code: "password_required"})
	c.do(t, srv.url, contractCall{method: http.MethodHead, path: "/opts-app", status: 401})
	c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/opts-app", header: []string{"Accept", "text/html"}, status: 200})
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/opts-app", contentType: formType, body: "password=nope", status: 401, code: "wrong_password"})
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/opts-app", contentType: jsonType, body: `{"password":"nope"}`, status: 401, code: "wrong_password"})
	unlocked := c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/opts-app?ref=x", contentType: formType, body: "password=s3cret", status: 303})
	if got := unlocked.header.Get("Location"); got != "https://example.com/app?ref=x" {
		t.Errorf("the unlocked link redirects to %q", got)
	}
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/nosuchlink", contentType: formType, body: "password=x", status: 404, code: "not_found"})
	// A visit limit: exactly that many redirects, then 410 link_exhausted.
	one := int64(1)
	limited := srv.create(t, owner, httpapi.CreateRequest{URL: "https://example.com/limited", MaxVisits: &one})
	c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/" + limited.Code, status: 302})
	c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/" + limited.Code, status: 410, code: "link_exhausted"})
	c.do(t, srv.url, contractCall{method: http.MethodHead, path: "/" + limited.Code, status: 410})
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/" + limited.Code, contentType: formType, body: "password=x", status: 410, code: "link_exhausted"})
	passwordCases(t, c, srv, owner)

	for _, tt := range []struct {
		body       string
		docRefuses bool
		code       string
	}{
		{`{"url":"https://example.com/","title":"bell \u0007"}`, false, "invalid_title"},
		{`{"url":"https://example.com/","tags":[""]}`, true, "invalid_tags"},
		{`{"url":"https://example.com/","valid_from":"2099-01-01T00:00:00Z","expires_at":"2098-01-01T00:00:00Z"}`, false, "invalid_valid_from"},
		{`{"url":"https://example.com/","max_visits":0}`, true, "invalid_max_visits"},
		{`{"url":"https://example.com/","password":"` + strings.Repeat("p", 257) + `"}`, true, "invalid_password"},
		{`{"url":"https://example.com/","rules":[{"when":{"device":"tv"},"url":"https://example.com/tv"}]}`, true, "invalid_rules"},
		{`{"url":"https://example.com/","rules":[{"when":{},"url":"https://example.com/"}]}`, true, "invalid_rules"},
		{`{"url":"https://example.com/","rules":[{"when":{"country":"DE"},"url":"ftp://example.com/"}]}`, false, "url_scheme_not_allowed"},
	} {
		post(tt.body, tt.docRefuses, 400, tt.code)
	}

	target := srv.create(t, owner, httpapi.CreateRequest{URL: "https://example.com/edit-me", Tags: []string{"edit"}})
	path := "/api/v1/links/" + target.Code
	patch := func(key, contentType, body string, docRefuses bool, status int, code string) httpapi.LinkJSON {
		t.Helper()
		r := c.do(t, srv.url, contractCall{method: http.MethodPatch, path: path, key: key, contentType: contentType, body: body,
			docRefuses: docRefuses, status: status, code: code})
		var l httpapi.LinkJSON
		if r.status == 200 {
			r.decode(t, &l)
		}
		return l
	}

	t.Run("patch", func(t *testing.T) {
		// Disable: the redirect answers 410 link_disabled, JSON or page.
		l := patch(owner, mergePatchType, `{"disabled":true,"disabled_reason":"Reported as phishing"}`, false, 200, "")
		if !l.Disabled || l.DisabledAt == nil || l.DisabledReason == nil || *l.DisabledReason != "Reported as phishing" || l.URL != target.URL {
			t.Errorf("after disabling: %+v", l)
		}
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/" + target.Code, status: 410, code: "link_disabled"})
		c.do(t, srv.url, contractCall{method: http.MethodHead, path: "/" + target.Code, status: 410})
		c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/" + target.Code, contentType: formType, body: "password=x", status: 410, code: "link_disabled"})
		page := c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/" + target.Code, header: []string{"Accept", "text/html"}, status: 410})
		if strings.HasPrefix(page.header.Get("Content-Type"), "text/html") && !strings.Contains(string(page.body), "This link has been disabled") {
			t.Errorf("a browser's page for a disabled link says: %.300s", page.body)
		}

		// Enable with null, edit the rest with application/json.
		l = patch(owner, jsonType, `{"disabled":null,"url":"https://Example.com/edited","title":"Edited","tags":["b","a"],`+
			`"expires_at":"2099-01-01T00:00:00Z","max_visits":3,"password":"pw","forward_query":true,`+
			`"rules":[{"when":{"language":"FR"},"url":"https://example.fr/"}]}`, false, 200, "")
		if l.Disabled || l.DisabledReason != nil || l.URL != "https://example.com/edited" || l.Title == nil || *l.Title != "Edited" ||
			!slices.Equal(l.Tags, []string{"a", "b"}) || l.ExpiresAt == nil || l.MaxVisits == nil || *l.MaxVisits != 3 ||
			!l.PasswordProtected || !l.ForwardQuery || len(l.Rules) != 1 || l.Rules[0].When.Language != "fr" || l.Code != target.Code {
			t.Errorf("after editing: %+v", l)
		}
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/" + target.Code, status: 401, code: "password_required"})
		r := c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/" + target.Code, contentType: formType, body: "password=pw", status: 303})
		if got := r.header.Get("Location"); got != "https://example.com/edited" {
			t.Errorf("the edited link redirects to %q", got)
		}
		// null clears; fields left out stay.
		l = patch(owner, mergePatchType, `{"title":null,"tags":null,"expires_at":null,"max_visits":null,"password":null,"rules":null,"forward_query":null}`, false, 200, "")
		if l.Title != nil || len(l.Tags) != 0 || l.ExpiresAt != nil || l.MaxVisits != nil || l.PasswordProtected || l.ForwardQuery ||
			len(l.Rules) != 0 || l.URL != "https://example.com/edited" {
			t.Errorf("after clearing: %+v", l)
		}
		// An empty patch changes nothing; GET shows the same.
		patch(owner, mergePatchType, `{}`, false, 200, "")
		var got httpapi.LinkJSON
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: path, key: owner, status: 200}).decode(t, &got)
		if got.URL != l.URL || got.Title != nil {
			t.Errorf("GET after the edits: %+v", got)
		}

		// A link not valid yet answers like a missing one, with its own code.
		patch(owner, mergePatchType, `{"valid_from":"2099-01-01T00:00:00Z"}`, false, 200, "")
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/" + target.Code, status: 404, code: "link_not_yet_valid"})
		patch(owner, mergePatchType, `{"valid_from":null}`, false, 200, "")
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/" + target.Code, status: 302})

		for _, tt := range []struct {
			body, contentType string
			docRefuses        bool
			status            int
			code              string
		}{
			{`{"max_visits":0}`, mergePatchType, true, 400, "invalid_max_visits"},
			{`{"title":5}`, mergePatchType, true, 400, "invalid_field_type"},
			{`{"code":"other"}`, mergePatchType, true, 400, "immutable_field"},
			{`{"colour":"red"}`, mergePatchType, true, 400, "unknown_field"},
			{`{"url":null}`, mergePatchType, true, 400, "missing_url"},
			{`{"url":"javascript:alert(1)"}`, mergePatchType, false, 400, "url_scheme_not_allowed"},
			{`{"expires_at":"2001-01-01T00:00:00Z"}`, mergePatchType, false, 400, "expiry_in_past"},
			{`{"disabled_reason":"no"}`, mergePatchType, false, 400, "invalid_disabled_reason"},
			{`[1]`, mergePatchType, true, 400, "malformed_json"},
			{`{"url":"https://exa mple.com/"}`, mergePatchType, false, 400, "invalid_url"},
			{`{"url":"https://example.com/` + strings.Repeat("a", link.DefaultMaxURLLength) + `"}`, mergePatchType, false, 400, "url_too_long"},
			{`{"url":"https://user:pw@example.com/"}`, mergePatchType, false, 400, "url_has_credentials"},
			{`{"url":"` + srv.url + `/x"}`, mergePatchType, false, 400, "url_self_reference"},
			{`{"expires_at":"tomorrow"}`, mergePatchType, true, 400, "invalid_expiry"},
			{`{"title":"tab\tin title"}`, mergePatchType, false, 400, "invalid_title"},
			{`{"tags":["ok","bad\u0000"]}`, mergePatchType, false, 400, "invalid_tags"},
			{`{"valid_from":"someday"}`, mergePatchType, true, 400, "invalid_valid_from"},
			{`{"password":""}`, mergePatchType, true, 400, "invalid_password"},
			{`{"rules":[{"when":{"country":"Germany"},"url":"https://example.de/"}]}`, mergePatchType, true, 400, "invalid_rules"},
			{`{"title":"x"}`, "text/plain", true, 415, "unsupported_media_type"},
			{`{"title":"x"}`, "application/vnd.other+json", true, 415, "unsupported_media_type"},
			{`{"title":"` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`, mergePatchType, true, 413, "body_too_large"},
		} {
			patch(owner, tt.contentType, tt.body, tt.docRefuses, tt.status, tt.code)
		}
		patch(other, mergePatchType, `{"title":"x"}`, false, 404, "not_found")
		patch(reader, mergePatchType, `{"title":"x"}`, false, 403, "insufficient_scope")
		patch("", mergePatchType, `{"title":"x"}`, true, 401, "unauthorized")
	})

	t.Run("list filters and tags", func(t *testing.T) {
		tagger := srv.key(t, "tagger", false)
		for i, tags := range [][]string{{"red"}, {"red", "blue"}, nil} {
			srv.create(t, tagger, httpapi.CreateRequest{URL: fmt.Sprintf("https://shop%d.example.org/x", i), Title: fmt.Sprintf("Item %d", i), Tags: tags})
		}
		list := func(query string) []string {
			var page httpapi.LinkList
			c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links?" + query, key: tagger, status: 200}).decode(t, &page)
			var urls []string
			for _, l := range page.Links {
				urls = append(urls, strings.TrimSuffix(strings.TrimPrefix(l.URL, "https://shop"), ".example.org/x"))
			}
			return urls
		}
		for _, tt := range []struct{ query, want string }{
			{"tag=red", "1,0"},
			{"tag=blue", "1"},
			{"q=ITEM%202", "2"},
			{"domain=shop0.example.org", "0"},
			{"domain=example.org&sort=created", "0,1,2"},
			{"sort=-created&tag=red&limit=1", "1"},
		} {
			if got := strings.Join(list(tt.query), ","); got != tt.want {
				t.Errorf("GET /api/v1/links?%s lists %s, want %s", tt.query, got, tt.want)
			}
		}
		for _, k := range []contractCall{
			{path: "/api/v1/links?sort=visits", docRefuses: true, code: "invalid_sort"},
			{path: "/api/v1/links?tag=%20Red", code: "invalid_tag"},
			{path: "/api/v1/links?domain=exa%20mple", code: "invalid_domain"},
		} {
			k.method, k.key, k.status = http.MethodGet, tagger, 400
			c.do(t, srv.url, k)
		}

		var tags httpapi.TagList
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/tags", key: tagger, status: 200}).decode(t, &tags)
		if want := []httpapi.TagJSON{{Tag: "blue", Links: 1}, {Tag: "red", Links: 2}}; !slices.Equal(tags.Tags, want) {
			t.Errorf("tags = %+v, want %+v", tags.Tags, want)
		}
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/tags", docRefuses: true, status: 401, code: "unauthorized"})
	})

	t.Run("list by clicks", func(t *testing.T) {
		// A server of its own that writes clicks often, so the test
		// does not wait long for them.
		fast := startContractApp(t, func(c *config.Config) { c.AnalyticsFlushInterval = 50 * time.Millisecond })
		key := fast.key(t, "counter", false)
		var codes []string
		for i := range 3 {
			codes = append(codes, fast.create(t, key, httpapi.CreateRequest{URL: fmt.Sprintf("https://clicked%d.example.org/", i)}).Code)
		}
		// Link 1 is followed three times, link 0 once, link 2 never, by
		// a browser (a client without Accept-Language counts as a bot).
		browser := []string{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", "Accept-Language", "en"}
		for i, n := range []int{1, 3, 0} {
			for range n {
				c.do(t, fast.url, contractCall{method: http.MethodGet, path: "/" + codes[i], header: browser, status: 302})
			}
		}
		list := func(query string) (order string, page httpapi.LinkList) {
			t.Helper()
			c.do(t, fast.url, contractCall{method: http.MethodGet, path: "/api/v1/links?" + query, key: key, status: 200}).decode(t, &page)
			var out []string
			for _, l := range page.Links {
				clicks := int64(-1)
				if l.Clicks != nil {
					clicks = *l.Clicks
				}
				out = append(out, fmt.Sprintf("%d=%d", slices.Index(codes, l.Code), clicks))
			}
			return strings.Join(out, ","), page
		}
		want := "1=3,0=1,2=0"
		got, _ := list("sort=-clicks")
		for deadline := time.Now().Add(15 * time.Second); got != want && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			got, _ = list("sort=-clicks")
		}
		if got != want {
			t.Fatalf("sort=-clicks lists %s, want %s", got, want)
		}
		if got, _ := list("sort=clicks"); got != "2=0,0=1,1=3" {
			t.Errorf("sort=clicks lists %s, want 2=0,0=1,1=3", got)
		}
		// The cursor continues in the order of its page, and only there.
		first, page := list("sort=-clicks&limit=2")
		if first != "1=3,0=1" || page.NextCursor == nil {
			t.Fatalf("the first page by clicks is %s, next_cursor %v", first, page.NextCursor)
		}
		if rest, _ := list("sort=-clicks&limit=2&cursor=" + *page.NextCursor); rest != "2=0" {
			t.Errorf("the second page by clicks is %s, want 2=0", rest)
		}
		c.do(t, fast.url, contractCall{method: http.MethodGet, path: "/api/v1/links?limit=2&cursor=" + *page.NextCursor,
			key: key, status: 400, code: "invalid_cursor"})
	})

	t.Run("bulk", func(t *testing.T) {
		bulk := func(key, contentType, body string, docRefuses bool, status int, code string) httpapi.BulkResponse {
			t.Helper()
			r := c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/links/bulk", key: key, contentType: contentType,
				body: body, docRefuses: docRefuses, status: status, code: code})
			var out httpapi.BulkResponse
			if r.status == 200 {
				r.decode(t, &out)
			}
			return out
		}
		out := bulk(owner, jsonType, `{"links":[{"url":"https://example.com/b1","tags":["bulk"]},{"url":"https://example.com/b2","alias":"opts-app"},`+
			`{"url":"ftp://example.com/"},{"url":"https://example.com/b4","alias":"bulk-four"},{"url":"https://example.com/b5","alias":"bulk-four"}]}`,
			false, 200, "")
		var statuses []int
		for _, res := range out.Results {
			statuses = append(statuses, res.Status)
		}
		if !slices.Equal(statuses, []int{201, 409, 400, 201, 409}) {
			t.Fatalf("bulk statuses %v, want 201 409 400 201 409: %+v", statuses, out)
		}
		if l := out.Results[0].Link; l == nil || !slices.Equal(l.Tags, []string{"bulk"}) {
			t.Errorf("first result %+v", out.Results[0])
		}
		if e := out.Results[2].Error; e == nil || e.Code != "url_scheme_not_allowed" || e.Field != "url" {
			t.Errorf("third result %+v", out.Results[2])
		}
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/bulk-four", status: 302})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/" + out.Results[0].Link.Code, status: 302})

		big := `{"links":[` + strings.TrimSuffix(strings.Repeat(`{"url":"https://example.com/"},`, link.MaxBatch+1), ",") + `]}`
		bulk(owner, jsonType, big, true, 400, "too_many_links")
		bulk(owner, jsonType, `{"links":[]}`, true, 400, "no_links")
		bulk(owner, jsonType, `{"links":`, true, 400, "malformed_json")
		bulk(owner, jsonType, `{"links":[{"url":5}]}`, true, 400, "invalid_field_type")
		bulk(owner, jsonType, `{"links":[{"url":"https://example.com/","colour":"red"}]}`, true, 400, "unknown_field")
		bulk(owner, jsonType, `{"links":[{"url":"https://example.com/`+strings.Repeat("a", httpapi.MaxBulkBodyBytes)+`"}]}`, false, 413, "body_too_large")
		bulk(owner, "text/plain", `{"links":[]}`, true, 415, "unsupported_media_type")
		bulk(reader, jsonType, `{"links":[{"url":"https://example.com/"}]}`, false, 403, "insufficient_scope")
		bulk("", jsonType, `{"links":[{"url":"https://example.com/"}]}`, true, 401, "unauthorized")
	})
}

// passwordCases drives the password form's post, POST /{code}, through
// each of its answers.
func passwordCases(t *testing.T, c *contract, srv *contractServer, owner string) {
	secret := srv.create(t, owner, httpapi.CreateRequest{URL: "https://example.com/secret", Password: "pw"})
	path := "/" + secret.Code
	// HEAD answers as GET: the page, without its body.
	c.do(t, srv.url, contractCall{method: http.MethodHead, path: path, header: []string{"Accept", "text/html"}, status: 200})
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: path, contentType: jsonType, body: `{"password":`, docRefuses: true, status: 400, code: "malformed_json"})
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: path, contentType: formType, body: "password=%zz", docRefuses: true, status: 400, code: "malformed_form"})
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: path, contentType: formType, body: "password=" + strings.Repeat("p", 5000), docRefuses: true, status: 413, code: "body_too_large"})
	if srv.answers(t, "/") {
		// A post another site sent is refused, before the rate limit.
		c.do(t, srv.url, contractCall{method: http.MethodPost, path: path, contentType: formType, body: "password=pw",
			header: []string{"Sec-Fetch-Site", "cross-site"}, status: 403})
	}
	future := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	later := srv.create(t, owner, httpapi.CreateRequest{URL: "https://example.com/later", ValidFrom: future})
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/" + later.Code, contentType: formType, body: "password=x", status: 404, code: "link_not_yet_valid"})

	// Five attempts at once per link and client, then 429; the right
	// password is rationed too.
	guarded := srv.create(t, owner, httpapi.CreateRequest{URL: "https://example.com/guarded", Password: "pw"})
	for range 5 {
		c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/" + guarded.Code, contentType: formType, body: "password=guess", status: 401, code: "wrong_password"})
	}
	r := c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/" + guarded.Code, contentType: formType, body: "password=pw", status: 429, code: "rate_limited"})
	if r.header.Get("Retry-After") == "" {
		t.Error("a refused password attempt has no Retry-After")
	}
}
