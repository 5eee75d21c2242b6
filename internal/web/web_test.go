package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
)

// checkPageHeaders checks the headers every HTML response must carry.
func checkPageHeaders(t *testing.T, h http.Header) {
	t.Helper()
	if got := h.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}
	csp := map[string]string{}
	for _, d := range strings.Split(h.Get("Content-Security-Policy"), ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		csp[name] = value
	}
	for name, want := range map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self'",
		"style-src":       "'self'",
		"img-src":         "'self' data:",
		"form-action":     "'self'",
		"frame-ancestors": "'none'",
		"base-uri":        "'none'",
	} {
		if csp[name] != want {
			t.Errorf("Content-Security-Policy %s is %q, want %q (whole: %q)", name, csp[name], want, h.Get("Content-Security-Policy"))
		}
	}
	for name, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "same-origin",
		"Cache-Control":          "no-store",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s %q, want %q", name, got, want)
		}
	}
}

// checkNoInline fails on anything the CSP would block or that would make
// it matter: inline scripts, inline styles, event handler attributes and
// javascript: URLs.
func checkNoInline(t *testing.T, p page) {
	t.Helper()
	for _, s := range p.tag("script") {
		if attr(s, "src") == "" || s.FirstChild != nil {
			t.Errorf("inline script: %v", s.Attr)
		}
	}
	if n := len(p.tag("style")); n > 0 {
		t.Errorf("%d <style> elements", n)
	}
	for _, n := range p.all(func(*html.Node) bool { return true }) {
		for _, a := range n.Attr {
			switch {
			case a.Key == "style":
				t.Errorf("<%s> has a style attribute", n.Data)
			case strings.HasPrefix(a.Key, "on"):
				t.Errorf("<%s> has an event handler attribute %s", n.Data, a.Key)
			case (a.Key == "href" || a.Key == "src" || a.Key == "action") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:"):
				t.Errorf("<%s %s=%q>", n.Data, a.Key, a.Val)
			}
		}
	}
}

// checkLabels checks that every form control has a label pointing at it.
func checkLabels(t *testing.T, p page) {
	t.Helper()
	labels := map[string]bool{}
	for _, l := range p.tag("label") {
		labels[attr(l, "for")] = true
	}
	for _, c := range p.all(func(n *html.Node) bool { return n.Data == "input" || n.Data == "select" || n.Data == "textarea" }) {
		if id := attr(c, "id"); id == "" || !labels[id] {
			t.Errorf("<%s name=%q> has no <label for>", c.Data, attr(c, "name"))
		}
	}
}

func TestHome(t *testing.T) {
	h := newHandler(t)
	rec := get(h, "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /: status %d", rec.Code)
	}
	checkPageHeaders(t, rec.Header())
	p := parse(t, rec.Body)
	checkNoInline(t, p)
	checkLabels(t, p)

	form := p.byID("shorten")
	if attr(form, "method") != "post" || attr(form, "action") != "/" {
		t.Errorf("form posts %s to %s, want post to /", attr(form, "method"), attr(form, "action"))
	}
	for _, name := range []string{"url", "alias", "expires_in"} {
		if len(p.all(func(n *html.Node) bool { return attr(n, "name") == name })) != 1 {
			t.Errorf("no control named %q", name)
		}
	}
	if !hasAttr(p.byID("result"), "hidden") || !hasAttr(p.byID("error-summary"), "hidden") {
		t.Error("an empty form shows a result or an error summary")
	}
	if hasAttr(p.byID("url"), "aria-invalid") {
		t.Error("an empty form marks the URL invalid")
	}

	// Every asset the page names is served.
	var refs []string
	for _, s := range p.tag("script") {
		refs = append(refs, attr(s, "src"))
	}
	for _, l := range p.tag("link") {
		refs = append(refs, attr(l, "href"))
	}
	if len(refs) < 3 {
		t.Fatalf("the page names %d assets, want a script, a style sheet and an icon", len(refs))
	}
	for _, ref := range refs {
		if !strings.HasPrefix(ref, "/static/") {
			t.Errorf("asset %q is not under /static/", ref)
			continue
		}
		if rec := get(h, ref); rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Errorf("GET %s: status %d, %d bytes", ref, rec.Code, rec.Body.Len())
		}
	}
}

// fieldState is what a test expects of one input after a post.
func checkField(t *testing.T, p page, input, wantMsg string) {
	t.Helper()
	in, msg := p.byID(input), p.byID(input+"-error")
	invalid := attr(in, "aria-invalid") == "true"
	described := strings.Contains(" "+attr(in, "aria-describedby")+" ", " "+input+"-error ")
	if wantMsg == "" {
		if invalid || described || !hasAttr(msg, "hidden") || text(msg) != "" {
			t.Errorf("%s: marked invalid (aria-invalid %v, described %v, message %q)", input, invalid, described, text(msg))
		}
		return
	}
	if !invalid {
		t.Errorf("%s: no aria-invalid=true", input)
	}
	if !described {
		t.Errorf("%s: aria-describedby %q does not name %s-error", input, attr(in, "aria-describedby"), input)
	}
	if hasAttr(msg, "hidden") || !strings.Contains(text(msg), wantMsg) {
		t.Errorf("%s: message %q (hidden %v), want %q", input, text(msg), hasAttr(msg, "hidden"), wantMsg)
	}
	// The summary links to the input.
	links := p.all(func(n *html.Node) bool { return n.Data == "a" && attr(n, "href") == "#"+input })
	if len(links) != 1 || !strings.Contains(text(links[0]), wantMsg) {
		t.Errorf("%s: the summary has no link to it with the message", input)
	}
}

func TestShorten(t *testing.T) {
	h := newHandler(t)
	if rec := post(h, url.Values{"url": {"https://example.com/first"}, "alias": {"taken"}}); rec.Code != http.StatusCreated {
		t.Fatalf("creating the taken alias: status %d", rec.Code)
	}

	tests := []struct {
		name      string
		form      url.Values
		wantCode  int
		wantField string // input id with the error; "" for success
		wantMsg   string
	}{
		{"generated code", url.Values{"url": {"https://example.com/a?b=c#d"}}, 201, "", ""},
		{"alias and expiry", url.Values{"url": {" https://example.com/b "}, "alias": {"my-Alias_1"}, "expires_in": {"86400"}}, 201, "", ""},
		{"missing URL", url.Values{"url": {""}}, 400, "url", "Give the URL to shorten."},
		{"javascript URL", url.Values{"url": {"javascript:alert(1)"}}, 400, "url", "Only http and https URLs can be shortened."},
		{"relative URL", url.Values{"url": {"example.com/page"}}, 400, "url", "Only http and https URLs"},
		{"link to itself", url.Values{"url": {testBase + "/abc"}}, 400, "url", "would loop"},
		{"bad alias", url.Values{"url": {"https://example.com/"}, "alias": {"no spaces"}}, 400, "alias", "3 to 64 characters"},
		{"reserved alias", url.Values{"url": {"https://example.com/"}, "alias": {"API"}}, 400, "alias", "reserved"},
		{"taken alias", url.Values{"url": {"https://example.com/"}, "alias": {"taken"}}, 409, "alias", "already taken"},
		{"unknown expiry", url.Values{"url": {"https://example.com/"}, "expires_in": {"5"}}, 400, "expires", "Choose one of the expiry times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(h, tt.form)
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantCode)
			}
			checkPageHeaders(t, rec.Header())
			p := parse(t, rec.Body)
			checkNoInline(t, p)
			checkLabels(t, p)
			title := text(p.tag("title")[0])

			if tt.wantField == "" {
				if strings.HasPrefix(title, "Error") || !hasAttr(p.byID("error-summary"), "hidden") {
					t.Errorf("success page shows an error (title %q)", title)
				}
				res := p.byID("result")
				if hasAttr(res, "hidden") {
					t.Fatal("the result is hidden")
				}
				short := attr(p.byID("short-url"), "href")
				code, ok := strings.CutPrefix(short, testBase+"/")
				if !ok || !link.ValidCode(link.Code(code)) || text(p.byID("short-url")) != short {
					t.Fatalf("short link %q is not %s/<code>", short, testBase)
				}
				if alias := tt.form.Get("alias"); alias != "" && code != alias {
					t.Errorf("code %q, want the alias %q", code, alias)
				}
				if got, want := attr(p.byID("qr"), "src"), "/api/v1/links/"+code+"/qr?format=svg"; got != want {
					t.Errorf("QR src %q, want %q", got, want)
				}
				wantURL := strings.TrimSpace(tt.form.Get("url"))
				if got := text(p.byID("long-url")); got != wantURL {
					t.Errorf("destination shown %q, want %q", got, wantURL)
				}
				expires := p.byID("expires-at")
				if tt.form.Get("expires_in") == "" {
					if text(expires) != "Never" {
						t.Errorf("expiry %q, want Never", text(expires))
					}
				} else {
					times := p.tag("time")
					if len(times) != 1 {
						t.Fatalf("%d <time> elements, want 1", len(times))
					}
					at, err := time.Parse(time.RFC3339, attr(times[0], "datetime"))
					if d := time.Until(at); err != nil || d < 23*time.Hour || d > 25*time.Hour {
						t.Errorf("expiry %q, want about a day from now", attr(times[0], "datetime"))
					}
				}
				// The form is empty again for the next link.
				if v := attr(p.byID("url"), "value"); v != "" {
					t.Errorf("URL input keeps %q", v)
				}
				// The link works, and the QR code is served.
				if r := get(h, "/"+code); r.Code != http.StatusFound || r.Header().Get("Location") != wantURL {
					t.Errorf("GET /%s: %d to %q, want 302 to %q", code, r.Code, r.Header().Get("Location"), wantURL)
				}
				if r := get(h, attr(p.byID("qr"), "src")); r.Code != http.StatusOK || r.Header().Get("Content-Type") != "image/svg+xml" {
					t.Errorf("GET QR: %d %s", r.Code, r.Header().Get("Content-Type"))
				}
				return
			}

			if !strings.HasPrefix(title, "Error: ") {
				t.Errorf("title %q does not start with 'Error: '", title)
			}
			if !hasAttr(p.byID("result"), "hidden") {
				t.Error("an error page shows a result")
			}
			summary := p.byID("error-summary")
			if hasAttr(summary, "hidden") || attr(summary, "role") != "alert" {
				t.Errorf("summary hidden %v, role %q; want shown with role alert", hasAttr(summary, "hidden"), attr(summary, "role"))
			}
			for _, input := range []string{"url", "alias", "expires"} {
				want := ""
				if input == tt.wantField {
					want = tt.wantMsg
				}
				checkField(t, p, input, want)
			}
			// What was typed is kept.
			if got := attr(p.byID("url"), "value"); got != strings.TrimSpace(tt.form.Get("url")) {
				t.Errorf("URL input %q, want %q", got, tt.form.Get("url"))
			}
			if got := attr(p.byID("alias"), "value"); got != tt.form.Get("alias") {
				t.Errorf("alias input %q, want %q", got, tt.form.Get("alias"))
			}
			if hint := attr(p.byID("alias"), "aria-describedby"); !strings.HasPrefix(hint, "alias-hint") {
				t.Errorf("alias aria-describedby %q lost its hint", hint)
			}
		})
	}
}

// TestShortenEscapes checks that what a visitor types comes back as text.
func TestShortenEscapes(t *testing.T) {
	h := newHandler(t)
	evil := `https://example.com/"><script>alert(1)</script>`
	rec := post(h, url.Values{"url": {evil}, "alias": {`"><img src=x onerror=alert(1)>`}})
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", rec.Code)
	}
	body := rec.Body.String()
	p := parse(t, strings.NewReader(body))
	checkNoInline(t, p)
	if len(p.tag("img")) != 2 { // the brand icon and the QR code
		t.Errorf("%d <img> elements, want 2: the input became markup", len(p.tag("img")))
	}
	if got := attr(p.byID("url"), "value"); got != evil {
		t.Errorf("URL input %q, want %q", got, evil)
	}
}

func TestCrossOrigin(t *testing.T) {
	tests := []struct {
		name     string
		header   []string
		wantCode int
	}{
		{"same origin", []string{"Sec-Fetch-Site", "same-origin"}, 201},
		{"typed into the address bar", []string{"Sec-Fetch-Site", "none"}, 201},
		{"cross site", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"same site, other origin", []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"old browser, own origin", []string{"Sec-Fetch-Site", "", "Origin", "http://example.com"}, 201},
		{"old browser, foreign origin", []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}, 403},
		{"not a browser", []string{"Sec-Fetch-Site", ""}, 201},
	}
	h := newHandler(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alias := "csrf" + string(rune('a'+i))
			rec := post(h, url.Values{"url": {"https://example.com/"}, "alias": {alias}}, tt.header...)
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantCode)
			}
			checkPageHeaders(t, rec.Header())
			created := get(h, "/"+alias).Code == http.StatusFound
			if created != (tt.wantCode == 201) {
				t.Errorf("link created: %v", created)
			}
			if tt.wantCode == 403 {
				p := parse(t, rec.Body)
				if p.has("shorten") {
					t.Error("a refused cross-site post gets the form back")
				}
				if got := text(p.tag("h1")[0]); got != "Not allowed" {
					t.Errorf("heading %q", got)
				}
			}
		})
	}
}

func TestRequireAPIKey(t *testing.T) {
	h := newHandler(t, func(c *config.Config) { c.RequireAPIKey = true })
	for _, tt := range []struct {
		name     string
		rec      *httptest.ResponseRecorder
		wantCode int
	}{
		{"page", get(h, "/"), 200},
		{"post", post(h, url.Values{"url": {"https://example.com/"}, "alias": {"nokey"}}), 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d", tt.rec.Code, tt.wantCode)
			}
			checkPageHeaders(t, tt.rec.Header())
			p := parse(t, tt.rec.Body)
			if p.has("shorten") {
				t.Error("the page offers the form though anonymous creation is off")
			}
			if !strings.Contains(text(p.byID("keys-required")), "API key") {
				t.Errorf("the notice %q does not mention API keys", text(p.byID("keys-required")))
			}
		})
	}
	if rec := get(h, "/nokey"); rec.Code != http.StatusNotFound {
		t.Errorf("GET /nokey: status %d, want 404: the post created a link", rec.Code)
	}
}

// TestRateLimit checks that the form draws on the same per-client budget
// as the API, and that running out gives the form back with the message.
func TestRateLimit(t *testing.T) {
	h := newHandler(t, func(c *config.Config) { c.CreateRate, c.CreateBurst = 0.001, 2 })
	form := url.Values{"url": {"https://example.com/limited"}, "alias": {"lim1"}}
	if rec := post(h, form); rec.Code != http.StatusCreated {
		t.Fatalf("first post: status %d", rec.Code)
	}

	req := httptest.NewRequest(http.MethodPost, "/api/v1/links", strings.NewReader(`{"url":"https://example.com/api"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("API post: status %d", rec.Code)
	}

	form.Set("alias", "lim2")
	rec = post(h, form)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("third create: status %d, want 429", rec.Code)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	checkPageHeaders(t, rec.Header())
	p := parse(t, rec.Body)
	if got := attr(p.byID("alias"), "value"); got != "lim2" {
		t.Errorf("alias input %q, want the visitor's lim2", got)
	}
	summary := p.byID("error-summary")
	if hasAttr(summary, "hidden") || !strings.Contains(text(summary), "Too many requests") {
		t.Errorf("summary %q (hidden %v), want the rate limit message", text(summary), hasAttr(summary, "hidden"))
	}
	if get(h, "/lim2").Code != http.StatusNotFound {
		t.Error("the refused post created its link")
	}
}

// TestCrossSitePostSpendsNoBudget checks that the cross-origin check comes
// before the rate limit: posts another site forged are refused without
// spending the visitor's budget for creates.
func TestCrossSitePostSpendsNoBudget(t *testing.T) {
	h := newHandler(t, func(c *config.Config) { c.CreateRate, c.CreateBurst = 0.001, 1 })
	for i := range 3 {
		rec := post(h, url.Values{"url": {"https://example.com/forged"}}, "Sec-Fetch-Site", "cross-site")
		if rec.Code != http.StatusForbidden {
			t.Fatalf("cross-site post %d: status %d, want 403", i, rec.Code)
		}
	}
	if rec := post(h, url.Values{"url": {"https://example.com/own"}, "alias": {"own1"}}); rec.Code != http.StatusCreated {
		t.Fatalf("the visitor's own post after three forged ones: status %d, want 201", rec.Code)
	}
	// The budget of one is spent now, by the visitor's own create.
	if rec := post(h, url.Values{"url": {"https://example.com/own"}, "alias": {"own2"}}); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("the visitor's second post: status %d, want 429", rec.Code)
	}
}

func TestErrorPages(t *testing.T) {
	cfg := testConfig(t)
	a := newApp(t, cfg)
	h := a.Handler()

	// An expired link, written straight to the database.
	db := sqlitetest.OpenFile(t, strings.TrimPrefix(cfg.DatabaseURL, "sqlite:"))
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	if _, err := db.Insert(t.Context(), link.Link{Code: "old-news", URL: "https://example.com/old", CreatedAt: past.Add(-time.Hour), ExpiresAt: past}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		path      string
		wantCode  int
		wantTitle string
		wantCodeS string
	}{
		{"unknown code", "/no-such-code", 404, "Nothing here", "not_found"},
		{"impossible code", "/a.b", 404, "Nothing here", "not_found"},
		{"expired", "/old-news", 410, "This link has expired", "link_expired"},
		{"unknown asset", "/static/nope.js", 404, "Nothing here", "not_found"},
		{"unknown path", "/a/b/c", 404, "Nothing here", "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(h, tt.path)
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantCode)
			}
			checkPageHeaders(t, rec.Header())
			p := parse(t, rec.Body)
			checkNoInline(t, p)
			if got := text(p.tag("h1")[0]); got != tt.wantTitle {
				t.Errorf("heading %q, want %q", got, tt.wantTitle)
			}
			if !strings.Contains(text(p.root), tt.wantCodeS) {
				t.Errorf("the page does not name the error code %s", tt.wantCodeS)
			}
			home := p.all(func(n *html.Node) bool { return n.Data == "a" && attr(n, "href") == "/" })
			if len(home) == 0 {
				t.Error("no link back to the home page")
			}
		})
	}

	// Programs still get JSON.
	req := httptest.NewRequest(http.MethodGet, "/old-news", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	if rec.Code != http.StatusGone || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error.Code != "link_expired" {
		t.Errorf("GET /old-news without Accept: %d %s", rec.Code, rec.Body)
	}
}

func TestAssets(t *testing.T) {
	h := newHandler(t)
	p := parse(t, get(h, "/").Body)
	var script, style string
	for _, s := range p.tag("script") {
		script = attr(s, "src")
	}
	for _, l := range p.tag("link") {
		if attr(l, "rel") == "stylesheet" {
			style = attr(l, "href")
		}
	}
	hashed := regexp.MustCompile(`^/static/([a-z]+)\.[0-9a-f]{12}\.([a-z]+)$`)
	for _, tt := range []struct {
		path, wantType string
	}{
		{script, "text/javascript; charset=utf-8"},
		{style, "text/css; charset=utf-8"},
	} {
		m := hashed.FindStringSubmatch(tt.path)
		if m == nil {
			t.Fatalf("asset %q has no content hash in its name", tt.path)
		}
		rec := get(h, tt.path)
		if rec.Code != 200 || rec.Header().Get("Content-Type") != tt.wantType {
			t.Fatalf("GET %s: %d %q", tt.path, rec.Code, rec.Header().Get("Content-Type"))
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
			t.Errorf("GET %s: Cache-Control %q", tt.path, cc)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", tt.path)
		}
		etag := rec.Header().Get("ETag")
		body := rec.Body.String()

		plain := "/static/" + m[1] + "." + m[2]
		rec = get(h, plain)
		if rec.Code != 200 || rec.Body.String() != body || rec.Header().Get("Cache-Control") != "no-cache" || rec.Header().Get("ETag") != etag {
			t.Errorf("GET %s: %d, Cache-Control %q, ETag %q; want the same file, no-cache and %s",
				plain, rec.Code, rec.Header().Get("Cache-Control"), rec.Header().Get("ETag"), etag)
		}
		if rec := get(h, plain, "If-None-Match", etag); rec.Code != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match: %d, want 304", plain, rec.Code)
		}
		req := httptest.NewRequest(http.MethodHead, tt.path, nil)
		head := httptest.NewRecorder()
		h.ServeHTTP(head, req)
		if head.Code != 200 || head.Body.Len() != 0 {
			t.Errorf("HEAD %s: %d with %d bytes", tt.path, head.Code, head.Body.Len())
		}
	}
}
