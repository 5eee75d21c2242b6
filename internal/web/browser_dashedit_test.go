package web_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shortlinks/shortlinks/internal/config"
)

// visibleText is the text of the element with id, or "" when there is
// none.
func visibleText(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return run(t, ctx, "text of "+id, chromedp.Evaluate[string](fmt.Sprintf(`(document.getElementById(%q) || {}).innerText || ""`, id)))
}

// listed returns the codes of the list page's rows, in order, with their
// clicks when the list shows them: "code=clicks,...".
func listed(t *testing.T, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, "listed", chromedp.Evaluate[string](`Array.from(document.querySelectorAll('#links tbody tr')).map(tr => {
		const c = tr.querySelector('td.clicks');
		return tr.querySelector('th a').textContent + (c ? '=' + c.textContent.trim() : '');
	}).join(',')`))
}

// postFrom sends a form post from the page, as a script on it could, and
// returns the status of the answer, redirects followed.
func postFrom(t *testing.T, ctx context.Context, path, body string) int {
	t.Helper()
	return run(t, ctx, "post "+path, chromedp.Evaluate[int](fmt.Sprintf(
		`fetch(%q, {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: %q}).then(r => r.status)`, path, body),
		chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
}

// click follows a short link as a person's browser would, without going
// on to the destination.
func click(t *testing.T, shortURL string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, shortURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
	req.Header.Set("Accept-Language", "en")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET %s: status %d, want 302", shortURL, resp.StatusCode)
	}
}

// fill replaces the value of the inputs, by id.
func fill(t *testing.T, ctx context.Context, values map[string]string) {
	t.Helper()
	for id, v := range values {
		if !run(t, ctx, "fill "+id, chromedp.Evaluate[bool](fmt.Sprintf(
			`(el => { if (!el) return false; el.value = %q; return true })(document.getElementById(%q))`, v, id))) {
			t.Fatalf("fill: no input #%s", id)
		}
	}
}

// TestBrowserLinkEditing drives the link options of the dashboard in
// Chromium: create with options, edit each field and see it applied,
// field errors, disable and enable, search, filter, sort and pages, a
// CSV upload with bad rows, and a member who cannot reach another's
// links even by guessing their codes.
func TestBrowserLinkEditing(t *testing.T) {
	e := newBrowserEnv(t, withAdmin, noCreateLimit, func(c *config.Config) {
		// Clicks are written at once, and the browser keeps no redirect,
		// so that it sees each change.
		c.AnalyticsFlushInterval, c.CacheControl = 50*time.Millisecond, "no-store"
	})
	admin := e.person(t)
	problems := watchConsole(admin)
	signInAs(t, e, admin, adminEmail, adminPassword, "/links/new")
	dest := strings.TrimSuffix(e.dest, "/landing?from=shortlinks")

	// Create with options.
	do(t, admin, "more options", chromedp.Click(chromedp.CSS(`details.more summary`)))
	fill(t, admin, map[string]string{
		"url": dest + "/spring", "alias": "spring", "title": "Spring launch", "tags": "Launch, news",
		"max_visits": "500", "password": "open sesame", "rule-0-value": "ios", "rule-0-url": "https://apps.example.com/spring",
	})
	do(t, admin, "forward query", chromedp.Click(chromedp.ID("forward_query")))
	if st := submit(t, admin, "submit"); st != http.StatusOK {
		t.Fatalf("create with options: status %d", st)
	}
	wantLocation(t, admin, e.base+"/links/spring")
	wantText(t, admin, "flash", "Created "+e.base+"/spring")
	wantText(t, admin, "link-title", "Spring launch")
	wantText(t, admin, "link-tags", "launch news")
	wantText(t, admin, "link-max-visits", "500")
	wantText(t, admin, "link-password", "Visitors must type it")
	wantText(t, admin, "link-forward-query", "Passed on")
	wantText(t, admin, "link-rules", "When device is ios: https://apps.example.com/spring")

	// Errors come back beside their inputs, with what was typed kept.
	fill(t, admin, map[string]string{"url": "javascript:alert(1)", "title": "Kept"})
	if st := submit(t, admin, "save"); st != http.StatusBadRequest {
		t.Errorf("a javascript: URL: status %d, want 400", st)
	}
	checkFieldError(t, admin, "url", "Only http and https URLs can be shortened.")
	if got := run(t, admin, "title kept", chromedp.Value(chromedp.ID("title"))); got != "Kept" {
		t.Errorf("title input %q after a failed save, want Kept", got)
	}
	fill(t, admin, map[string]string{"url": dest + "/spring", "max_visits": "many"})
	if st := submit(t, admin, "save"); st != http.StatusBadRequest {
		t.Errorf("max visits \"many\": status %d, want 400", st)
	}
	wantText(t, admin, "max_visits-error", "whole number")
	fill(t, admin, map[string]string{"max_visits": "0"})
	if st := submit(t, admin, "save"); st != http.StatusBadRequest {
		t.Errorf("max visits 0: status %d, want 400", st)
	}
	wantText(t, admin, "max_visits-error", "max_visits must be a whole number from 1")
	fill(t, admin, map[string]string{"max_visits": "500", "rule-1-value": "Germany", "rule-1-url": "https://example.de/"})
	do(t, admin, "country rule", chromedp.SetValue(chromedp.ID("rule-1-kind"), "country"))
	if st := submit(t, admin, "save"); st != http.StatusBadRequest {
		t.Errorf("country Germany: status %d, want 400", st)
	}
	wantText(t, admin, "rule-1-value-error", "two-letter")
	if got := visibleText(t, admin, "link-title"); got != "Spring launch" {
		t.Errorf("a refused edit changed the title to %q", got)
	}

	// Edit every field, and follow the short link to the new URL.
	open(t, admin, e.base+"/links/spring")
	fill(t, admin, map[string]string{
		"url": dest + "/summer", "title": "Summer launch", "tags": "launch, summer", "max_visits": "",
		"expires_at": "2099-06-01T12:30", "rule-0-value": "", "rule-0-url": "",
		"rule-1-value": "fr", "rule-1-url": "https://example.fr/ete",
	})
	do(t, admin, "language rule", chromedp.SetValue(chromedp.ID("rule-1-kind"), "language"))
	do(t, admin, "forward query off, password off", chromedp.Click(chromedp.ID("forward_query")), chromedp.Click(chromedp.ID("clear_password")))
	if st := submit(t, admin, "save"); st != http.StatusOK {
		t.Fatalf("save: status %d", st)
	}
	wantLocation(t, admin, e.base+"/links/spring")
	wantText(t, admin, "flash", "Saved the changes to "+e.base+"/spring")
	wantText(t, admin, "long-url", dest+"/summer")
	wantText(t, admin, "link-title", "Summer launch")
	wantText(t, admin, "link-tags", "launch summer")
	wantText(t, admin, "expires-at", "1 Jun 2099 12:30 UTC")
	wantText(t, admin, "link-rules", "When language is fr: https://example.fr/ete")
	for _, gone := range []string{"link-max-visits", "link-password", "link-forward-query"} {
		if got := visibleText(t, admin, gone); got != "" {
			t.Errorf("#%s still says %q after it was cleared", gone, got)
		}
	}
	if got := run(t, admin, "rule rows", chromedp.Value(chromedp.ID("rule-0-value"))); got != "fr" {
		t.Errorf("the first rule row holds %q, want fr (empty rows are left out)", got)
	}
	screenshot(t, admin, "link-edit.png")
	open(t, admin, e.base+"/spring")
	wantText(t, admin, "landed", "/summer")
	// Saving what is there changes nothing.
	open(t, admin, e.base+"/links/spring")
	submit(t, admin, "save")
	wantText(t, admin, "flash", "Nothing changed.")

	// Disable with a reason, then enable again.
	fill(t, admin, map[string]string{"reason": "campaign paused"})
	submit(t, admin, "disable")
	wantText(t, admin, "flash", "Disabled "+e.base+"/spring")
	wantText(t, admin, "link-disabled", "campaign paused")
	if st := open(t, admin, e.base+"/spring"); st != http.StatusGone {
		t.Errorf("the disabled short link: status %d, want 410", st)
	}
	open(t, admin, e.base+"/links/spring")
	submit(t, admin, "enable")
	wantText(t, admin, "flash", "Enabled "+e.base+"/spring")
	if got := visibleText(t, admin, "link-disabled"); got != "" {
		t.Errorf("an enabled link still shows %q", got)
	}
	open(t, admin, e.base+"/spring")
	wantText(t, admin, "landed", "/summer")

	// A CSV upload: 28 good rows, one with a URL the rules refuse and one
	// the file format cannot read; each row gets its result.
	var csv strings.Builder
	csv.WriteString("url,code,title,tags,max_visits\n")
	for i := range 28 {
		fmt.Fprintf(&csv, "%s/item/%d,item-%02d,Item %d,many|sale,\n", dest, i, i, i)
	}
	csv.WriteString("javascript:alert(1),bad-url,,many,\n")
	csv.WriteString(dest + "/x,bad-count,,many,-3\n")
	file := filepath.Join(t.TempDir(), "links.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	open(t, admin, e.base+"/links/bulk")
	if st := submit(t, admin, "submit"); st != http.StatusBadRequest {
		t.Errorf("an upload without a file: status %d, want 400", st)
	}
	wantText(t, admin, "file-error", "Choose a CSV file")
	do(t, admin, "choose file", chromedp.SetUploadFiles(chromedp.ID("file"), []string{file}))
	if st := submit(t, admin, "submit"); st != http.StatusOK {
		t.Fatalf("upload: status %d", st)
	}
	wantText(t, admin, "bulk-summary", "28 created, 2 not created")
	results := run(t, admin, "results", chromedp.Text(chromedp.ID("bulk-results")))
	for _, want := range []string{"Created " + e.base + "/item-00", "url_scheme_not_allowed", "invalid_row", "line 31"} {
		if !strings.Contains(results, want) {
			t.Errorf("the results do not say %q:\n%s", want, results)
		}
	}
	screenshot(t, admin, "bulk.png")

	// Clicks: item-03 three times, item-01 once, by a browser that
	// analytics counts as a person (headless Chromium is a bot to it).
	for code, n := range map[string]int{"item-03": 3, "item-01": 1} {
		for range n {
			click(t, e.base+"/"+code)
		}
	}

	// Search, filter by tag, sort, and pages that keep them.
	open(t, admin, e.base+"/links")
	fill(t, admin, map[string]string{"q": "summer"})
	submit(t, admin, "apply-filters")
	if got := listed(t, admin); !strings.HasPrefix(got, "spring") || strings.Contains(got, ",") {
		t.Errorf("search summer lists %q, want spring alone", got)
	}
	open(t, admin, e.base+"/links")
	do(t, admin, "tag and order", chromedp.SetValue(chromedp.ID("tag"), "many"), chromedp.SetValue(chromedp.ID("sort"), "-clicks"))
	submit(t, admin, "apply-filters")
	want := "item-03=3,item-01=1"
	got := listed(t, admin)
	for deadline := time.Now().Add(15 * time.Second); !strings.HasPrefix(got, want) && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		open(t, admin, e.base+"/links?tag=many&sort=-clicks")
		got = listed(t, admin)
	}
	if !strings.HasPrefix(got, want+",") {
		t.Fatalf("tag many, most clicked first, lists %q; want it to start %s", got, want)
	}
	screenshot(t, admin, "links.png")
	next := run(t, admin, "next page", chromedp.AttributeValue(chromedp.ID("next-page"), "href"))
	if !strings.Contains(next.Value, "tag=many") || !strings.Contains(next.Value, "sort=-clicks") {
		t.Errorf("the next page %q drops the filter or the order", next.Value)
	}
	submit(t, admin, "next-page")
	second := listed(t, admin)
	if n := strings.Count(second, ",") + 1; n != 28-25 {
		t.Errorf("the second page lists %d links (%s), want 3", n, second)
	}
	if strings.Contains(second, "spring") || strings.Contains(second, "item-03") {
		t.Errorf("the second page repeats or leaves the filter: %s", second)
	}
	open(t, admin, e.base+"/links?sort=clicks&tag=many")
	if got := listed(t, admin); strings.HasPrefix(got, "item-03") {
		t.Errorf("least clicked first starts with the most clicked: %s", got)
	}

	// Ann, a member, sees only her own links, and reaches none of the
	// admin's, even by guessing a code and posting to it.
	open(t, admin, e.base+"/users")
	fill(t, admin, map[string]string{"email": "ann@example.com", "password": "ann's long password"})
	submit(t, admin, "create-user-submit")
	ann := e.person(t)
	signInAs(t, e, ann, "ann@example.com", "ann's long password", "/links/new")
	fill(t, ann, map[string]string{"url": dest + "/ann", "alias": "anns"})
	submit(t, ann, "submit")
	wantLocation(t, ann, e.base+"/links/anns")
	open(t, ann, e.base+"/links")
	if got := listed(t, ann); got != "anns=0" {
		t.Errorf("Ann's list is %q, want her one link", got)
	}
	open(t, ann, e.base+"/links?q=item")
	if got := listed(t, ann); got != "" {
		t.Errorf("Ann's search for the admin's links lists %q", got)
	}
	for _, path := range []string{"/links/spring", "/links/spring/delete"} {
		if st := open(t, ann, e.base+path); st != http.StatusNotFound {
			t.Errorf("%s, for Ann: status %d, want 404", path, st)
		}
	}
	open(t, ann, e.base+"/links")
	for _, p := range []struct {
		path, body string
		status     int
	}{
		{"/links/spring", "url=" + dest + "/stolen", http.StatusNotFound},
		{"/links/spring/disable", "reason=mine", http.StatusNotFound},
		{"/links/spring/enable", "", http.StatusNotFound},
		// Deleting says "no such link" on the list, as for any code.
		{"/links/spring/delete", "", http.StatusOK},
	} {
		if st := postFrom(t, ann, p.path, p.body); st != p.status {
			t.Errorf("POST %s by Ann: status %d, want %d", p.path, st, p.status)
		}
	}
	open(t, admin, e.base+"/links/spring")
	wantText(t, admin, "long-url", dest+"/summer")
	if got := visibleText(t, admin, "link-disabled"); got != "" {
		t.Errorf("Ann's post disabled the admin's link: %q", got)
	}

	if p := problems(); len(p) > 0 {
		t.Errorf("console: %q", p)
	}
}
