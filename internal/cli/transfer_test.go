package cli_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/cli"
)

// noRedirects is a client that reports redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// locations maps each code to where the server at base redirects it.
func locations(t *testing.T, base string, codes []string) map[string]string {
	t.Helper()
	out := make(map[string]string, len(codes))
	for _, c := range codes {
		resp, err := noRedirects.Get(base + "/" + c)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		out[c] = resp.Status + " " + resp.Header.Get("Location")
	}
	return out
}

// TestImportExportRoundTrip imports a file with every kind of record into a
// served database, exports it, imports the export into an empty database,
// and checks that every link redirects the same from both and keeps its
// clicks.
func TestImportExportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	server, dbURL := startServer(t)
	in := filepath.Join(dir, "in.csv")
	// "counted" is never visited here, so its clicks stay the 7 imported.
	if err := os.WriteFile(in, []byte(`url,code,created_at,expires_at,clicks
https://one.example/a?b=c,one,2024-05-06T07:08:09Z,,
https://two.example/,,2024-05-06T07:08:09Z,2040-01-01T00:00:00Z,
https://gone.example/,past,2020-01-01T00:00:00Z,2021-01-01T00:00:00Z,
ftp://refused.example/,refused,,,
https://dup.example/,one,,,
https://counted.example/,counted,2024-05-06T07:08:09Z,,7
`), 0o600); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report.csv")
	out := mustRun(t, nil, "import", "--from", "csv", in, "--database-url", dbURL, "--report", report, "-o", "json")
	var sum struct{ Read, Imported, Skipped, Conflicts, Invalid int }
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("import output %q: %v", out, err)
	}
	if sum.Read != 6 || sum.Imported != 4 || sum.Conflicts != 1 || sum.Invalid != 1 {
		t.Errorf("import summary %+v, want 6 read, 4 imported, 1 conflict, 1 invalid", sum)
	}
	rows := readCSV(t, report)
	if len(rows) != 7 || strings.Join(rows[0], ",") != "ref,code,url,result,reason,message" {
		t.Fatalf("report: %q", rows)
	}
	var generated string
	for _, r := range rows[1:] {
		switch r[0] {
		case "line 3":
			generated = r[1]
		case "line 5":
			if r[3] != "invalid" || r[4] != "url_scheme_not_allowed" {
				t.Errorf("report of the ftp row: %q", r)
			}
		case "line 6":
			if r[3] != "conflict" || r[4] != "code_repeated" {
				t.Errorf("report of the repeated code: %q", r)
			}
		}
	}
	if generated == "" {
		t.Fatalf("the codeless row got no code in the report: %q", rows)
	}

	// Links made through the API go out too.
	resp, err := http.Post(server+"/api/v1/links", "application/json", strings.NewReader(`{"url":"https://api.example/x","alias":"from-api"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %s", resp.Status)
	}

	codes := []string{"one", generated, "past", "from-api", "refused", "never"}
	before := locations(t, server, codes)
	if !strings.HasPrefix(before["one"], "302") || !strings.HasPrefix(before["past"], "410") || !strings.HasPrefix(before["refused"], "404") {
		t.Fatalf("served before export: %v", before)
	}

	for _, format := range []string{"csv", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "links."+format)
			mustRun(t, nil, "export", "--format", format, "--out", file, "--database-url", dbURL)
			exported, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if n := exportedClicks(t, format, string(exported), "counted"); n != 7 {
				t.Errorf("the export gives counted %d clicks, want 7", n)
			}
			empty := "sqlite:" + filepath.Join(t.TempDir(), "copy.db")
			mustRun(t, nil, "import", "--from", format, file, "--database-url", empty)
			copied := mustRun(t, nil, "export", "--format", format, "--database-url", empty)
			if n := exportedClicks(t, format, copied, "counted"); n != 7 {
				t.Errorf("after the round trip counted has %d clicks, want 7", n)
			}
			after := locations(t, serve(t, empty), codes)
			for _, c := range codes {
				if after[c] != before[c] {
					t.Errorf("%s: %q after the round trip, %q before", c, after[c], before[c])
				}
			}
			// Importing the export again finds everything already there.
			again := mustRun(t, nil, "import", "--from", format, file, "--database-url", empty, "-o", "json")
			if !strings.Contains(again, `"imported": 0`) || !strings.Contains(again, `"skipped": 5`) {
				t.Errorf("second import of the export: %s", again)
			}
		})
	}
}

func TestImportDryRunAndState(t *testing.T) {
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "links.db")
	in := filepath.Join(dir, "in.jsonl")
	var b strings.Builder
	for _, code := range []string{"aaa", "bbb", "ccc"} {
		b.WriteString(`{"url":"https://example.com/` + code + `"}` + "\n") // codeless: only --state keeps a rerun from repeating them
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	dry := mustRun(t, nil, "import", "--from", "jsonl", in, "--database-url", dbURL, "--dry-run")
	if !strings.Contains(dry, "would import 3") {
		t.Errorf("dry run said %q", dry)
	}
	exported := mustRun(t, nil, "export", "--database-url", dbURL)
	if strings.Count(exported, "\n") != 1 {
		t.Errorf("a dry run stored links: %q", exported)
	}
	state := filepath.Join(dir, "state")
	mustRun(t, nil, "import", "--from", "jsonl", in, "--database-url", dbURL, "--state", state)
	second := mustRun(t, nil, "import", "--from", "jsonl", in, "--database-url", dbURL, "--state", state)
	if !strings.Contains(second, "read 0") {
		t.Errorf("rerun with --state read the file again: %q", second)
	}
	if n := strings.Count(mustRun(t, nil, "export", "--database-url", dbURL), "\n"); n != 4 {
		t.Errorf("export has %d lines after two runs with --state, want a header and 3 links", n)
	}
}

func TestImportRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"import"},
		{"import", "--from", "gopher"},
		{"import", "--from", "shlink", "--url", "https://s.example"},
		{"import", "--from", "yourls"},
		{"export", "--format", "xml"},
	} {
		var stdout, stderr bytes.Buffer
		err := cli.Run(t.Context(), append(args, "--database-url", "sqlite:"+filepath.Join(t.TempDir(), "x.db")), &stdout, &stderr, nil)
		if err == nil {
			t.Errorf("shortlinks %s succeeded", strings.Join(args, " "))
		}
	}
}

// exportedClicks returns the clicks that an export in format (csv or
// jsonl) gives the link code.
func exportedClicks(t *testing.T, format, export, code string) int64 {
	t.Helper()
	if format == "jsonl" {
		for line := range strings.Lines(export) {
			var r struct {
				Code   string
				Clicks *int64
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("export line %q: %v", line, err)
			}
			if r.Code == code {
				if r.Clicks == nil {
					t.Fatalf("export line %q has no clicks", line)
				}
				return *r.Clicks
			}
		}
		t.Fatalf("%s is not in the export %q", code, export)
	}
	rows, err := csv.NewReader(strings.NewReader(export)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("export %q: %v", export, err)
	}
	codeCol, clicksCol := slices.Index(rows[0], "code"), slices.Index(rows[0], "clicks")
	if codeCol < 0 || clicksCol < 0 {
		t.Fatalf("export header %q lacks code or clicks", rows[0])
	}
	for _, r := range rows[1:] {
		if r[codeCol] == code {
			n, err := strconv.ParseInt(r[clicksCol], 10, 64)
			if err != nil {
				t.Fatalf("clicks of %s: %v", code, err)
			}
			return n
		}
	}
	t.Fatalf("%s is not in the export %q", code, export)
	return 0
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rows, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestImportScreensDestinations: an import holds every destination to the
// checks a create is held to, the blocklists and Safe Browsing (here a
// server that answers as the Lookup API does), and reports each refused
// record without stopping.
func TestImportScreensDestinations(t *testing.T) {
	dir := t.TempDir()
	lists := filepath.Join(dir, "blocked.txt")
	if err := os.WriteFile(lists, []byte("evil.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var asked int
	lookup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ThreatInfo struct {
				ThreatEntries []struct{ URL string } `json:"threatEntries"`
			} `json:"threatInfo"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.URL.Query().Get("key") != "sb-key" {
			http.Error(w, `{"error":{"code":400,"message":"bad request","status":"INVALID_ARGUMENT"}}`, http.StatusBadRequest)
			return
		}
		asked += len(req.ThreatInfo.ThreatEntries)
		w.Header().Set("Content-Type", "application/json")
		var matches []string
		for _, e := range req.ThreatInfo.ThreatEntries {
			if strings.Contains(e.URL, "phish.example") {
				matches = append(matches, `{"threatType":"SOCIAL_ENGINEERING","platformType":"ANY_PLATFORM","threatEntryType":"URL","threat":{"url":"`+e.URL+`"},"cacheDuration":"300s"}`)
			}
		}
		if len(matches) == 0 {
			w.Write([]byte(`{}`))
			return
		}
		w.Write([]byte(`{"matches":[` + strings.Join(matches, ",") + `]}`))
	}))
	defer lookup.Close()

	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte(`url,code
https://fine.example/,fine
https://www.evil.example/x,blocked
https://phish.example/login,phished
https://also-fine.example/,alsofine
`), 0o600); err != nil {
		t.Fatal(err)
	}
	dbURL := "sqlite:" + filepath.Join(dir, "links.db")
	mustRun(t, nil, "migrate", "--database-url", dbURL)
	report := filepath.Join(dir, "report.csv")
	out := mustRun(t, nil, "import", "--from", "csv", in, "--database-url", dbURL, "--report", report, "-o", "json",
		"--blocklist", lists, "--safe-browsing-key", "sb-key", "--safe-browsing-endpoint", lookup.URL)
	var sum struct{ Read, Imported, Invalid int }
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("import output %q: %v", out, err)
	}
	if sum.Read != 4 || sum.Imported != 2 || sum.Invalid != 2 {
		t.Errorf("summary %+v, want 4 read, 2 imported, 2 invalid", sum)
	}
	if asked == 0 {
		t.Error("Safe Browsing was never asked")
	}
	got := map[string]string{}
	for _, r := range readCSV(t, report)[1:] {
		got[r[1]] = r[3] + " " + r[4]
	}
	want := map[string]string{"fine": "imported ", "blocked": "invalid url_blocked", "phished": "invalid url_unsafe", "alsofine": "imported "}
	if !maps.Equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
}

// TestImportExportDomains: records on branded domains keep them through
// export → import → export. A domain that is not here refuses its record
// unless the import is asked to add it; the same code may be on two
// domains.
func TestImportExportDomains(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte(`url,code,domain,created_at,clicks
https://acme.example/launch,launch,go.acme.test,2024-05-06T07:08:09Z,12
https://other.example/launch,launch,,2024-05-06T07:08:10Z,
https://acme.example/jobs,jobs,GO.ACME.TEST,2024-05-06T07:08:11Z,
https://link.example/x,xx1,acme.link,2024-05-06T07:08:12Z,3
`), 0o600); err != nil {
		t.Fatal(err)
	}
	first := "sqlite:" + filepath.Join(dir, "first.db")
	mustRun(t, nil, "migrate", "--database-url", first)

	// Without --create-domains, the records on domains that are not here
	// are refused, each with its reason, and the rest go in.
	report := filepath.Join(dir, "refused.csv")
	mustRun(t, nil, "import", "--from", "csv", in, "--database-url", first, "--report", report)
	got := map[string]string{}
	for _, r := range readCSV(t, report)[1:] {
		got[r[0]] = r[3] + " " + r[4]
	}
	want := map[string]string{"line 2": "invalid unknown_domain", "line 3": "imported ", "line 4": "invalid unknown_domain", "line 5": "invalid unknown_domain"}
	if !maps.Equal(got, want) {
		t.Errorf("without --create-domains: %v, want %v", got, want)
	}
	out := mustRun(t, nil, "import", "--from", "csv", in, "--database-url", first, "--create-domains", "-o", "json")
	var sum struct{ Read, Imported, Skipped int }
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Imported != 3 || sum.Skipped != 1 {
		t.Fatalf("with --create-domains: %s (%v)", out, err)
	}

	exported := mustRun(t, nil, "export", "--database-url", first)
	for _, line := range []string{
		"https://acme.example/launch,launch,go.acme.test,",
		"https://other.example/launch,launch,,",
		"https://acme.example/jobs,jobs,go.acme.test,",
		"https://link.example/x,xx1,acme.link,",
	} {
		if !strings.Contains(exported, line) {
			t.Errorf("export lacks %q:\n%s", line, exported)
		}
	}
	file := filepath.Join(dir, "export.csv")
	if err := os.WriteFile(file, []byte(exported), 0o600); err != nil {
		t.Fatal(err)
	}
	second := "sqlite:" + filepath.Join(dir, "second.db")
	mustRun(t, nil, "migrate", "--database-url", second)
	mustRun(t, nil, "import", "--from", "csv", file, "--database-url", second, "--create-domains")
	if again := mustRun(t, nil, "export", "--database-url", second); again != exported {
		t.Errorf("export of the import of the export differs:\n%s\nwant:\n%s", again, exported)
	}
}
