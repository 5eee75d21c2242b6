package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/shortlinks/shortlinks/internal/config"
)

// createLink makes a link through the API of h and returns its code.
func createLink(t *testing.T, h http.Handler, body string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/links", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create %s: %d %s", body, rec.Code, rec.Body)
	}
	var l struct{ Code string }
	if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	return l.Code
}

func postReport(h http.Handler, code string, form url.Values, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/report/"+code, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestPreview(t *testing.T) {
	h := newHandler(t)
	// Cyrillic а (U+0430) for the first letter: a look-alike of apple.com.
	lookalike := createLink(t, h, `{"url":"https://аpple.com/signin?next=%2Faccount","alias":"deal"}`)
	plain := createLink(t, h, `{"url":"https://example.com/a/page"}`)

	rec := get(h, "/"+lookalike+"+")
	if rec.Code != http.StatusOK || rec.Header().Get("Location") != "" {
		t.Fatalf("GET /%s+: %d, Location %q", lookalike, rec.Code, rec.Header().Get("Location"))
	}
	for name, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
		if got := rec.Header().Get(name); got != want {
			t.Errorf("%s %q, want %q", name, got, want)
		}
	}
	if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("the preview has no strict CSP: %q", rec.Header().Get("Content-Security-Policy"))
	}
	p := parse(t, rec.Body)
	const dest = "https://xn--pple-43d.com/signin?next=%2Faccount"
	if got := text(p.byID("host")); got != "аpple.com" {
		t.Errorf("host shown as %q", got)
	}
	if got := text(p.byID("punycode")); !strings.Contains(got, "xn--pple-43d.com") {
		t.Errorf("punycode line %q", got)
	}
	if got := text(p.byID("mixed-script")); !strings.Contains(got, "Cyrillic and Latin") {
		t.Errorf("mixed-script warning %q", got)
	}
	if got := text(p.byID("destination")); got != dest {
		t.Errorf("destination %q, want %q", got, dest)
	}
	cont := p.byID("continue")
	if attr(cont, "href") != dest || !strings.Contains(attr(cont, "rel"), "noreferrer") {
		t.Errorf("continue link href %q rel %q", attr(cont, "href"), attr(cont, "rel"))
	}
	if got := attr(p.byID("report"), "href"); got != "/report/"+lookalike {
		t.Errorf("report link %q", got)
	}

	p = parse(t, get(h, "/"+plain+"+").Body)
	if text(p.byID("host")) != "example.com" || p.has("punycode") || p.has("mixed-script") {
		t.Errorf("a plain host is shown with warnings: %q", text(p.byID("host")))
	}

	for _, path := range []string{"/Zz9Zz9Z+", "/no+such+"} {
		rec := get(h, path)
		if rec.Code != http.StatusNotFound || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: %d %s", path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	// The plain redirect is unchanged.
	if rec := get(h, "/"+plain); rec.Code != http.StatusFound || rec.Header().Get("Location") != "https://example.com/a/page" {
		t.Errorf("redirect: %d %q", rec.Code, rec.Header().Get("Location"))
	}
}

func TestPreviewEscapes(t *testing.T) {
	h := newHandler(t)
	code := createLink(t, h, `{"url":"https://example.com/?q=%22%3E%3Cscript%3Ealert(1)%3C/script%3E&x='\"<b>"}`)
	body := get(h, "/"+code+"+").Body.String()
	if strings.Contains(body, "<b>") || strings.Contains(body, "<script>alert") {
		t.Fatalf("the preview shows markup from the URL:\n%s", body)
	}
}

func TestReportPage(t *testing.T) {
	a := newApp(t, testConfig(t))
	h := a.Handler()
	code := createLink(t, h, `{"url":"https://example.com/fake-bank"}`)

	form := get(h, "/report/"+code)
	if form.Code != http.StatusOK {
		t.Fatalf("GET /report/%s: %d", code, form.Code)
	}
	p := parse(t, form.Body)
	if f := p.byID("report-form"); attr(f, "action") != "/report/"+code || attr(f, "method") != "post" {
		t.Errorf("form action %q method %q", attr(f, "action"), attr(f, "method"))
	}
	if got := len(p.all(func(n *html.Node) bool { return attr(n, "name") == "reason" })); got != 6 {
		t.Errorf("%d reasons to choose from, want 6", got)
	}
	if got := get(h, "/report/Zz9Zz9Z").Code; got != http.StatusNotFound {
		t.Errorf("report page of an unknown code: %d", got)
	}

	// Refused: from another site, whatever it says it is about.
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Site", "", "Origin", "https://evil.example"}} {
		rec := postReport(h, code, url.Values{"reason": {"spam"}}, hdr...)
		if rec.Code != http.StatusForbidden {
			t.Errorf("cross-origin post %v: %d", hdr, rec.Code)
		}
	}
	// A problem is shown beside its input, with the input kept.
	rec := postReport(h, code, url.Values{"reason": {"other"}, "contact": {"me@example.org"}})
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("other without details: %d", rec.Code)
	}
	p = parse(t, rec.Body)
	if got := text(p.byID("details-error")); !strings.Contains(got, "say in the details") {
		t.Errorf("details error %q", got)
	}
	if attr(p.byID("contact"), "value") != "me@example.org" || !hasAttr(p.byID("reason-other"), "checked") {
		t.Error("the form lost what was typed")
	}

	rec = postReport(h, code, url.Values{"reason": {"phishing"}, "details": {"Asks for my card number."}, "contact": {"me@example.org"}})
	if rec.Code != http.StatusCreated {
		t.Fatalf("report: %d %s", rec.Code, rec.Body)
	}
	if got := text(parse(t, rec.Body).byID("thanks")); !strings.Contains(got, testBase+"/"+code) {
		t.Errorf("thanks %q", got)
	}

	// What the admin sees is exactly what was sent, and only that.
	_, key, err := a.Keys().Create(t.Context(), "admin", true)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/reports?status=all", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	list := httptest.NewRecorder()
	h.ServeHTTP(list, req)
	var got struct {
		Reports []struct{ Code, Reason, Details, Contact, Status string } `json:"reports"`
	}
	if err := json.Unmarshal(list.Body.Bytes(), &got); err != nil || list.Code != 200 {
		t.Fatalf("GET /api/v1/reports: %d %v", list.Code, err)
	}
	if len(got.Reports) != 1 || got.Reports[0].Code != code || got.Reports[0].Reason != "phishing" ||
		got.Reports[0].Details != "Asks for my card number." || got.Reports[0].Contact != "me@example.org" || got.Reports[0].Status != "open" {
		t.Fatalf("reports = %+v", got.Reports)
	}
}

func TestReportRateLimit(t *testing.T) {
	h := newHandler(t, func(c *config.Config) { c.ReportRate, c.ReportBurst = 0.001, 2 })
	code := createLink(t, h, `{"url":"https://example.com/x"}`)
	for i, want := range []int{201, 201, 429} {
		rec := postReport(h, code, url.Values{"reason": {"spam"}})
		if rec.Code != want {
			t.Fatalf("report %d: %d, want %d", i+1, rec.Code, want)
		}
		if want == 429 && (rec.Header().Get("Retry-After") == "" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html")) {
			t.Errorf("429: Retry-After %q, Content-Type %q", rec.Header().Get("Retry-After"), rec.Header().Get("Content-Type"))
		}
	}
	// The API shares the budget.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/reports", strings.NewReader(`{"code":"`+code+`","reason":"spam"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusTooManyRequests {
		t.Errorf("API report after the page's budget: %d", rec.Code)
	}
}
