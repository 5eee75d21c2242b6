package httpapi

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocumentStatesSecurity: every operation says whether it needs a key,
// either as the document's default (an API key) or as its own list; the
// public ones say so with an empty list, and nothing public takes a key
// by default.
func TestDocumentStatesSecurity(t *testing.T) {
	doc := loadDocument(t)
	if len(doc.Security) != 1 || doc.Security[0]["apiKey"] == nil {
		t.Fatalf("the document's default security is %v, want the API key", doc.Security)
	}
	public := map[string]bool{
		"getLinkQR": true, "getOpenAPI": true, "redirect": true, "redirectHead": true, "homePage": true,
		"shortenFromPage": true, "live": true, "ready": true, "metrics": true, "robots": true,
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			switch {
			case public[op.OperationID]:
				if op.Security == nil || len(*op.Security) != 0 {
					t.Errorf("%s %s (%s) is public but does not say security: []", method, path, op.OperationID)
				}
			case op.Security == nil:
				t.Errorf("%s %s (%s) relies on the default security: state it", method, path, op.OperationID)
			}
		}
	}
}

// TestSecurityDocTestsExist: every test docs/security.md names as holding
// a defence exists somewhere in the module, so the table cannot point at
// a test that was renamed or removed.
func TestSecurityDocTestsExist(t *testing.T) {
	doc, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "## Which test holds each defence")
	if !ok {
		t.Fatal("docs/security.md has no section \"Which test holds each defence\"")
	}
	named := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)`").FindAllStringSubmatch(table, -1)
	if len(named) < 20 {
		t.Fatalf("the table names %d tests; want every hole and defence held by one", len(named))
	}
	defined := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Za-z0-9_]+)\(`)
	err = filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != "../.." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range named {
		if !defined[m[1]] {
			t.Errorf("docs/security.md names %s, which no test file defines", m[1])
		}
	}
}
