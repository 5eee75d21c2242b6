package web_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserImport drives the admin import page in Chromium: a file in
// Shortlinks' CSV format, first as a dry run that stores nothing, then for
// real. Each starts a background job and leads to its page, which follows
// the job until it ends and then lists the records it could not import
// with the reason; the imported link then redirects, and a rerun skips
// what is in. (Whether a dry run stores nothing is the importer's test;
// here a visit would be cached as a miss.)
func TestBrowserImport(t *testing.T) {
	e := newBrowserEnv(t, withAdmin, noCreateLimit)
	admin := e.person(t)
	problems := watchConsole(admin)
	file := filepath.Join(t.TempDir(), "links.csv")
	csv := "url,code,title,tags,clicks\n" +
		e.dest + ",moved,Moved here,launch,1021\n" +
		"https://example.com/guide,guide,Guide,,3\n" +
		"https://example.com/again,guide,Same code twice,,0\n" +
		"javascript:alert(1),script,,,0\n" +
		"https://example.com/reserved,api,,,0\n"
	if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	signInAs(t, e, admin, adminEmail, adminPassword, "/admin/import")

	// A run without a file says so beside the input.
	if st := submit(t, admin, "import-submit"); st != http.StatusBadRequest {
		t.Errorf("no file: status %d, want 400", st)
	}
	wantText(t, admin, "file-error", "Choose a file")

	upload := func(dry bool) {
		t.Helper()
		open(t, admin, e.base+"/admin/import")
		do(t, admin, "choose the file", chromedp.SetUploadFiles(chromedp.ID("file"), []string{file}))
		if dry {
			do(t, admin, "dry run", chromedp.Click(chromedp.ID("dry_run")))
		}
		if st := submit(t, admin, "import-submit"); st != http.StatusOK {
			t.Fatalf("import (dry run %v): status %d", dry, st)
		}
		// The job's own page, which reloads itself until the job ends.
		at := run(t, admin, "location", chromedp.Location())
		if !strings.HasPrefix(at, e.base+"/admin/import/") {
			t.Fatalf("after starting an import: at %s, want the job's page", at)
		}
		for deadline := time.Now().Add(30 * time.Second); ; {
			state := run(t, admin, "state", chromedp.Text(chromedp.ID("import-state")))
			if state == "done" {
				break
			}
			if state == "failed" || time.Now().After(deadline) {
				t.Fatalf("import job %s: %s", at, state)
			}
			time.Sleep(200 * time.Millisecond)
			open(t, admin, at)
		}
	}

	upload(true)
	wantText(t, admin, "import-result-title", "Dry run from csv")
	wantText(t, admin, "sum-read", "5")
	wantText(t, admin, "sum-imported", "2")
	wantText(t, admin, "sum-conflicts", "1")
	wantText(t, admin, "sum-invalid", "2")

	upload(false)
	wantText(t, admin, "flash", "Imported 2 of 5 records")
	wantText(t, admin, "import-rows", "code_repeated")
	wantText(t, admin, "import-rows", "An earlier record of this import has the same code.")
	screenshot(t, admin, "import.png")
	if st := open(t, admin, e.base+"/moved"); st != http.StatusOK {
		t.Errorf("/moved after the import: status %d", st)
	}
	wantText(t, admin, "landed", "/landing?from=shortlinks")

	upload(false)
	wantText(t, admin, "sum-skipped", "2")
	wantText(t, admin, "sum-imported", "0")

	if p := problems(); len(p) > 0 {
		t.Errorf("console: %q", p)
	}
}
