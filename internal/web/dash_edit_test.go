package web_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/config"
)

// upload posts a CSV file to the bulk form.
func (b *visitor) upload(csv string) answer {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "links.csv")
	if err != nil {
		b.t.Fatal(err)
	}
	io.WriteString(fw, csv)
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, b.s.base+"/links/bulk", &body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(raw)}
}

func TestDashboardEditing(t *testing.T) {
	s := newDashServer(t)
	admin, ann := s.visitor(t), s.visitor(t)
	admin.signIn(adminEmail, adminPassword)
	addUser(t, admin, "ann@example.com", "ann's long password")
	ann.signIn("ann@example.com", "ann's long password")

	a := admin.post("/links", url.Values{"url": {"https://example.com/a"}, "alias": {"edited"}, "expires_in": {""},
		"title": {"First"}, "tags": {"x, y"}, "rule_rows": {"1"}, "rule_0_kind": {"device"}, "rule_0_value": {"android"},
		"rule_0_url": {"https://play.example.com/a"}})
	wantRedirect(t, "create with options", a, "/links/edited")
	wantBody(t, "the new link", admin.get("/links/edited"), "First", ">x<", ">y<", "When device is android: https://play.example.com/a")

	edit := url.Values{"url": {"https://example.com/b"}, "title": {"Second"}, "tags": {"y"}, "max_visits": {"7"},
		"expires_at": {"2099-01-02T03:04"}, "rule_rows": {"3"}, "rule_0_kind": {"device"}, "rule_0_value": {"android"},
		"rule_0_url": {"https://play.example.com/a"}}
	// From another site, or by a member who does not own it, nothing
	// changes.
	wantStatus(t, "a cross-site edit", admin.do(http.MethodPost, "/links/edited", edit, "cross-site"), http.StatusForbidden)
	wantStatus(t, "Ann's edit of the admin's link", ann.post("/links/edited", edit), http.StatusNotFound)
	wantStatus(t, "Ann disables the admin's link", ann.post("/links/edited/disable", url.Values{}), http.StatusNotFound)
	wantBody(t, "after refused edits", admin.get("/links/edited"), "https://example.com/a", "First")

	wantRedirect(t, "edit", admin.post("/links/edited", edit), "/links/edited")
	wantBody(t, "the edited link", admin.get("/links/edited"), "Saved the changes", "https://example.com/b", "Second", "2 Jan 2099 03:04 UTC",
		`id="link-max-visits">7<`)
	// A rule's error lands beside its row, counted among the rows given.
	edit.Set("rule_2_kind", "country")
	edit.Set("rule_2_value", "Germany")
	edit.Set("rule_2_url", "https://example.de/")
	a = admin.post("/links/edited", edit)
	wantStatus(t, "a bad rule", a, http.StatusBadRequest)
	wantBody(t, "a bad rule", a, `id="rule-1-value-error"`, "two-letter ISO 3166 code")

	// Bulk: a file that is not ours, one too long, and one with a row
	// that fails alone.
	a = admin.upload("link,name\nhttps://example.com/,x\n")
	wantStatus(t, "an unknown column", a, http.StatusBadRequest)
	wantBody(t, "an unknown column", a, `id="file-error"`, "unknown column")
	var long strings.Builder
	long.WriteString("url\n")
	for i := range 1001 {
		fmt.Fprintf(&long, "https://example.com/%d\n", i)
	}
	a = admin.upload(long.String())
	wantStatus(t, "1001 rows", a, http.StatusBadRequest)
	wantBody(t, "1001 rows", a, "more than 1000 links")
	a = ann.upload("url,code\nhttps://example.com/ann,ann-bulk\nhttps://example.com/taken,edited\n")
	wantStatus(t, "an upload", a, http.StatusOK)
	wantBody(t, "an upload", a, "1 created, 1 not created", "/ann-bulk", "alias_taken")
	wantBody(t, "Ann's list", ann.get("/links"), "ann-bulk")

	// The list's query: a bad tag or cursor is a 400 page; an unknown
	// order is the default one.
	wantStatus(t, "tag with spaces", admin.get("/links?tag=%20X"), http.StatusBadRequest)
	wantStatus(t, "a made-up cursor", admin.get("/links?after=Zm9v"), http.StatusBadRequest)
	wantBody(t, "unknown order", admin.get("/links?sort=sideways"), `<option value="-created" selected>`)
}

// TestDashboardUploadLimit checks that an upload spends the create budget
// a link at a time, as the API's bulk create does.
func TestDashboardUploadLimit(t *testing.T) {
	s := newDashServer(t, func(c *config.Config) { c.CreateRate, c.CreateBurst = 0.01, 20 })
	admin := s.visitor(t)
	admin.signIn(adminEmail, adminPassword)
	var csv strings.Builder
	csv.WriteString("url\n")
	for i := range 30 {
		fmt.Fprintf(&csv, "https://example.com/%d\n", i)
	}
	a := admin.upload(csv.String())
	wantStatus(t, "30 links on a budget of 20", a, http.StatusTooManyRequests)
	if a.header.Get("Retry-After") == "" {
		t.Error("the refusal has no Retry-After")
	}
	wantBody(t, "after the refusal", admin.get("/links"), `id="no-links"`)
}
