package web_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserDomains drives the short domains in the dashboard in
// Chromium: an admin adds domains (a bad host shown beside its input),
// makes a link on one from the create form and from a CSV upload, sees
// its short URL, QR code and edit form on that domain, finds the domain's
// links counted and cannot remove it while a link is on it
// (domain_in_use); a member sees only the domains they may use.
func TestBrowserDomains(t *testing.T) {
	e := newBrowserEnv(t, withAdmin, noCreateLimit)
	admin := e.person(t)
	problems := watchConsole(admin)
	signInAs(t, e, admin, adminEmail, adminPassword, "/domains")

	// Adding: a host with a scheme is refused beside its input.
	fill(t, admin, map[string]string{"host": "https://go.acme.example/"})
	if st := submit(t, admin, "create-domain-submit"); st != http.StatusBadRequest {
		t.Errorf("a host with a scheme: status %d, want 400", st)
	}
	wantText(t, admin, "host-error", "host must be a domain name")
	for _, host := range []string{"go.acme.example", "vip.acme.example"} {
		open(t, admin, e.base+"/domains")
		fill(t, admin, map[string]string{"host": host, "root-redirect": "https://acme.example/"})
		if host == "vip.acme.example" {
			do(t, admin, "restricted", chromedp.Click(chromedp.ID("restricted")))
		}
		if st := submit(t, admin, "create-domain-submit"); st != http.StatusOK {
			t.Fatalf("add %s: status %d", host, st)
		}
		wantLocation(t, admin, e.base+"/domains")
		wantText(t, admin, "flash", "Added "+host)
	}
	wantText(t, admin, "domain-vip-acme-example", "restricted")

	// The same alias on the default domain and on go.acme.example.
	for _, host := range []string{"", "go.acme.example"} {
		open(t, admin, e.base+"/links/new")
		fill(t, admin, map[string]string{"url": e.dest, "alias": "launch", "domain": host})
		if st := submit(t, admin, "submit"); st != http.StatusOK {
			t.Fatalf("create launch on %q: status %d", host, st)
		}
	}
	wantLocation(t, admin, e.base+"/links/launch?domain=go.acme.example")
	wantText(t, admin, "short-url", "http://go.acme.example/launch")
	wantText(t, admin, "link-domain", "go.acme.example")
	if w := qrLoaded(t, admin); w == 0 {
		t.Errorf("the QR code of the link on go.acme.example did not load")
	}
	fill(t, admin, map[string]string{"title": "Acme launch"})
	if st := submit(t, admin, "save"); st != http.StatusOK {
		t.Fatalf("save: status %d", st)
	}
	wantLocation(t, admin, e.base+"/links/launch?domain=go.acme.example")
	wantText(t, admin, "flash", "Saved the changes to http://go.acme.example/launch")
	wantText(t, admin, "link-title", "Acme launch")
	open(t, admin, e.base+"/links/launch")
	wantText(t, admin, "short-url", e.base+"/launch")
	if got := visibleText(t, admin, "link-title"); got != "" {
		t.Errorf("the default domain's launch got the title %q", got)
	}

	// A CSV upload onto the domain chosen; a row may name its own.
	csv := "url,code,domain\n" + e.dest + ",from-file,\n" + e.dest + ",on-default," + strings.TrimPrefix(strings.Split(e.base, ":")[1], "//") + "\n"
	file := filepath.Join(t.TempDir(), "links.csv")
	if err := os.WriteFile(file, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	open(t, admin, e.base+"/links/bulk")
	do(t, admin, "choose file", chromedp.SetUploadFiles(chromedp.ID("file"), []string{file}))
	fill(t, admin, map[string]string{"domain": "go.acme.example"})
	if st := submit(t, admin, "submit"); st != http.StatusOK {
		t.Fatalf("upload: status %d", st)
	}
	wantText(t, admin, "bulk-summary", "2 created, 0 not created")
	results := run(t, admin, "results", chromedp.Text(chromedp.ID("bulk-results")))
	for _, want := range []string{"Created http://go.acme.example/from-file", "Created " + e.base + "/on-default"} {
		if !strings.Contains(results, want) {
			t.Errorf("the upload's results do not say %q:\n%s", want, results)
		}
	}

	// The domain's links are counted, and keep it from being removed.
	open(t, admin, e.base+"/domains")
	wantText(t, admin, "domain-go-acme-example", "2")
	if st := submit(t, admin, "remove-go-acme-example"); st != http.StatusConflict {
		t.Errorf("removing a domain with links: status %d, want 409", st)
	}
	wantText(t, admin, "error-summary", "Live links are on go.acme.example")
	screenshot(t, admin, "domains.png")
	open(t, admin, e.base+"/links?domain=go.acme.example")
	if got := listed(t, admin); got != "go.acme.example/from-file=0,go.acme.example/launch=0" {
		t.Errorf("the domain's links listed %q", got)
	}
	for _, code := range []string{"from-file", "launch"} {
		open(t, admin, e.base+"/links/"+code+"/delete?domain=go.acme.example")
		submit(t, admin, "confirm-delete")
		wantText(t, admin, "flash", "Deleted http://go.acme.example/"+code)
	}
	open(t, admin, e.base+"/domains")
	if st := submit(t, admin, "remove-go-acme-example"); st != http.StatusOK {
		t.Errorf("removing a domain without links: status %d", st)
	}
	wantText(t, admin, "flash", "Removed go.acme.example")
	open(t, admin, e.base+"/links/launch")
	wantText(t, admin, "short-url", e.base+"/launch")

	// A member sees the domains they may use, and no forms to change them.
	open(t, admin, e.base+"/users")
	fill(t, admin, map[string]string{"email": "ann@example.com", "password": "ann@example.com password"})
	submit(t, admin, "create-user-submit")
	member := e.person(t)
	signInAs(t, e, member, "ann@example.com", "ann@example.com password", "/domains")
	page := visibleText(t, member, "main")
	if strings.Contains(page, "vip.acme.example") || strings.Contains(page, "Add a domain") || strings.Contains(page, "Remove") {
		t.Errorf("a member's domains page:\n%s", page)
	}
	if status := open(t, member, e.base+"/links/new"); status != http.StatusOK {
		t.Fatalf("new link: %d", status)
	}
	if got := visibleText(t, member, "domain"); got != "" {
		t.Errorf("the member, with one domain to use, is offered %q", got)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("console problems: %v", p)
	}
}
