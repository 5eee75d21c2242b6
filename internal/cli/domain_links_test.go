package cli_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/httpapi"
)

// TestLinkCommandsOnDomain runs shorten, info, edit, stats and delete on
// a link on a branded domain, against a real server: the alias "launch"
// is taken on the default domain and on two others, one of them an
// international name (sent escaped, in its Unicode form), and each
// command acts on the one --domain names.
func TestLinkCommandsOnDomain(t *testing.T) {
	server, dbURL := startServer(t)
	admin := strings.TrimSpace(mustRun(t, nil, "apikey", "create", "--name", "boss", "--admin", "--database-url", dbURL))
	env := []string{"SHORTLINKS_SERVER=" + server, "SHORTLINKS_API_KEY=" + admin}
	const idn, idnASCII = "bücher.example.test", "xn--bcher-kva.example.test"
	for _, h := range []string{"go.example.test", idn} {
		mustRun(t, env, "domain", "add", h)
	}

	if out := mustRun(t, env, "shorten", "https://example.com/default", "--alias", "launch"); !strings.HasSuffix(out, "/launch\n") {
		t.Fatalf("shorten on the default domain printed %q", out)
	}
	if out := mustRun(t, env, "shorten", "https://example.com/go", "--alias", "launch", "--domain", "go.example.test"); out != "http://go.example.test/launch\n" {
		t.Fatalf("shorten --domain printed %q", out)
	}
	if out := mustRun(t, env, "shorten", "https://example.com/idn", "--alias", "launch", "--domain", idn); out != "http://"+idnASCII+"/launch\n" {
		t.Fatalf("shorten --domain %s printed %q", idn, out)
	}
	if _, err := run(t, env, "shorten", "https://example.com/x", "--domain", "nowhere.example.test"); err == nil ||
		!strings.Contains(err.Error(), "domain_not_found") {
		t.Fatalf("shorten on an unknown domain: %v", err)
	}

	info := func(args ...string) httpapi.LinkJSON {
		t.Helper()
		var l httpapi.LinkJSON
		if err := json.Unmarshal([]byte(mustRun(t, env, append([]string{"info", "launch", "-o", "json"}, args...)...)), &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l := info(); l.URL != "https://example.com/default" {
		t.Errorf("info launch = %+v, want the default domain's", l)
	}
	if l := info("--domain", "go.example.test"); l.URL != "https://example.com/go" || l.Domain != "go.example.test" {
		t.Errorf("info launch --domain go.example.test = %+v", l)
	}
	if l := info("--domain", idn); l.URL != "https://example.com/idn" || l.Domain != idnASCII {
		t.Errorf("info launch --domain %s = %+v", idn, l)
	}

	if out := mustRun(t, env, "edit", "launch", "--domain", idn, "--title", "IDN launch"); !strings.Contains(out, "IDN launch") {
		t.Errorf("edit --domain printed:\n%s", out)
	}
	if l := info("--domain", idn); l.Title == nil || *l.Title != "IDN launch" {
		t.Errorf("after edit --domain, %+v", l)
	}
	if l := info(); l.Title != nil {
		t.Errorf("edit --domain changed the default domain's link too: %+v", l)
	}

	var st httpapi.StatsJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, "stats", "launch", "--domain", idn, "-o", "json")), &st); err != nil || st.Code != "launch" {
		t.Fatalf("stats --domain: %+v, %v", st, err)
	}

	// A report names the link with its domain.
	resp, err := http.Post(server+"/api/v1/reports", "application/json",
		strings.NewReader(`{"code":"http://go.example.test/launch","reason":"spam"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("report: %s", resp.Status)
	}
	if out := mustRun(t, nil, "reports", "list", "--database-url", dbURL); !strings.Contains(out, " go.example.test/launch ") {
		t.Errorf("reports list printed:\n%s", out)
	}

	if out := mustRun(t, env, "delete", "launch", "--domain", "go.example.test"); out != "deleted launch\n" {
		t.Fatalf("delete --domain printed %q", out)
	}
	if _, err := run(t, env, "info", "launch", "--domain", "go.example.test"); err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Fatalf("info of the deleted link: %v", err)
	}
	if _, err := run(t, env, "stats", "launch", "--domain", "go.example.test"); err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Fatalf("stats of the deleted link: %v", err)
	}
	if l := info(); l.URL != "https://example.com/default" {
		t.Errorf("delete --domain touched the default domain's link: %+v", l)
	}
	if l := info("--domain", idn); l.URL != "https://example.com/idn" {
		t.Errorf("delete --domain touched another domain's link: %+v", l)
	}
}
