package cli_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/cli"
	"github.com/shortlinks/shortlinks/internal/httpapi"
)

func TestDomainCommands(t *testing.T) {
	server, dbURL := startServer(t)
	admin := strings.TrimSpace(mustRun(t, nil, "apikey", "create", "--name", "boss", "--admin", "--database-url", dbURL))
	member := strings.TrimSpace(mustRun(t, nil, "apikey", "create", "--name", "plain", "--database-url", dbURL))
	env := []string{"SHORTLINKS_SERVER=" + server, "SHORTLINKS_API_KEY=" + admin}

	if out := mustRun(t, env, "domain", "add", "go.example.test", "--root-redirect", "https://example.com/",
		"--not-found-redirect", "https://example.com/404", "--restricted"); out != "added go.example.test\n" {
		t.Fatalf("domain add printed %q", out)
	}
	_, err := run(t, env, "domain", "add", "go.example.test")
	if err == nil || !strings.Contains(err.Error(), "domain_taken") {
		t.Fatalf("adding the domain twice: %v", err)
	}
	_, err = run(t, env, "domain", "add", "other.example.test", "--api-key", member)
	if err == nil || !strings.Contains(err.Error(), "HTTP 403") {
		t.Fatalf("domain add with a key that is not an admin's: %v", err)
	}

	list := mustRun(t, env, "domain", "list", "--api-key", member)
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "HOST") || !strings.Contains(lines[1], "yes") ||
		!strings.HasPrefix(lines[2], "go.example.test ") || !strings.Contains(lines[2], "https://example.com/404") {
		t.Fatalf("domain list printed:\n%s", list)
	}
	var got httpapi.DomainList
	if err := json.Unmarshal([]byte(mustRun(t, env, "domain", "list", "-o", "json")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Domains) != 2 || !got.Domains[0].Default || got.Domains[1].Host != "go.example.test" || !got.Domains[1].Restricted ||
		got.Domains[1].RootRedirect == nil || *got.Domains[1].RootRedirect != "https://example.com/" || got.Domains[1].CreatedAt == nil {
		t.Fatalf("domain list -o json: %+v", got)
	}

	// A live link keeps the domain, and the API's message says why.
	l, err := httpapi.NewClient(server, admin, nil).Create(t.Context(),
		httpapi.CreateRequest{URL: "https://example.com/launch", Alias: "launch", Domain: "go.example.test"})
	if err != nil || l.ShortURL != "http://go.example.test/launch" {
		t.Fatalf("link on the domain: %+v, %v", l, err)
	}
	_, err = run(t, env, "domain", "remove", "go.example.test")
	if err == nil || !strings.Contains(err.Error(), "domain_in_use") || !strings.Contains(err.Error(), "HTTP 409") {
		t.Fatalf("removing a domain with a link on it: %v", err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, server+"/api/v1/links/launch?domain=go.example.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("deleting the link on the domain: %s", resp.Status)
	}
	if out := mustRun(t, env, "domain", "remove", "go.example.test"); out != "removed go.example.test\n" {
		t.Fatalf("domain remove printed %q", out)
	}
	_, err = run(t, env, "domain", "remove", "go.example.test")
	if err == nil || !strings.Contains(err.Error(), "domain_not_found") {
		t.Fatalf("removing a removed domain: %v", err)
	}
	if list := mustRun(t, env, "domain", "list"); strings.Contains(list, "go.example.test") {
		t.Fatalf("domain list after remove:\n%s", list)
	}
}

// TestDomainAddIfMissing runs 'domain add --if-missing' as a deploy hook
// does, on every upgrade, against a real server: the first run adds the
// domain, later ones find it and succeed without changing it.
func TestDomainAddIfMissing(t *testing.T) {
	server, dbURL := startServer(t)
	admin := strings.TrimSpace(mustRun(t, nil, "apikey", "create", "--name", "deploy", "--admin", "--database-url", dbURL))
	member := strings.TrimSpace(mustRun(t, nil, "apikey", "create", "--name", "plain", "--database-url", dbURL))
	env := []string{"SHORTLINKS_SERVER=" + server, "SHORTLINKS_API_KEY=" + admin}
	add := func(args ...string) (stdout, stderr string, err error) {
		var out, errb bytes.Buffer
		err = cli.Run(t.Context(), append([]string{"domain", "add"}, args...), &out, &errb, env)
		return out.String(), errb.String(), err
	}

	hook := []string{"go.example.test", "--root-redirect", "https://example.com/", "--if-missing"}
	if out, errOut, err := add(hook...); err != nil || out != "added go.example.test\n" || errOut != "" {
		t.Fatalf("first run: %q %q %v", out, errOut, err)
	}
	// The next upgrades: the domain exists, which is success, and it is
	// left as it is.
	for range 2 {
		if out, errOut, err := add(hook...); err != nil || out != "go.example.test exists; unchanged\n" || errOut != "" {
			t.Fatalf("run on an existing domain: %q %q %v", out, errOut, err)
		}
	}
	// The host as the server keeps it, whatever its spelling.
	if out, _, err := add("GO.Example.Test.", "--if-missing"); err != nil || out != "go.example.test exists; unchanged\n" {
		t.Fatalf("run with the host in capitals: %q %v", out, err)
	}
	// Settings given that the domain does not have are named, and not
	// applied.
	out, errOut, err := add("go.example.test", "--restricted", "--root-redirect", "https://example.org/", "--if-missing")
	if err != nil || out != "go.example.test exists; unchanged\n" ||
		errOut != "go.example.test exists with other settings, left as they are: root-redirect is https://example.com/, not https://example.org/; restricted is no, not yes\n" {
		t.Fatalf("run with other settings: %q %q %v", out, errOut, err)
	}
	var got httpapi.DomainJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, "domain", "add", "go.example.test", "--if-missing", "-o", "json")), &got); err != nil {
		t.Fatal(err)
	}
	if got.Host != "go.example.test" || got.Restricted || got.RootRedirect == nil || *got.RootRedirect != "https://example.com/" || got.CreatedAt == nil {
		t.Fatalf("domain add --if-missing -o json on the existing domain: %+v", got)
	}
	if list := mustRun(t, env, "domain", "list"); strings.Count(list, "go.example.test") != 1 {
		t.Fatalf("domain list after the runs:\n%s", list)
	}

	// Without --if-missing an existing domain is still an error, and
	// --if-missing does not hide other errors.
	if _, _, err := add("go.example.test"); err == nil || !strings.Contains(err.Error(), "domain_taken") {
		t.Fatalf("adding the domain twice without --if-missing: %v", err)
	}
	if _, _, err := add("go.example.test", "--if-missing", "--api-key", member); err == nil || !strings.Contains(err.Error(), "HTTP 403") {
		t.Fatalf("--if-missing with a key that is not an admin's: %v", err)
	}
	if _, _, err := add("not a host", "--if-missing"); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Fatalf("--if-missing with an invalid host: %v", err)
	}
}
