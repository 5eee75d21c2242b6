package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/httpapi"
)

func TestEditCommand(t *testing.T) {
	server, dbURL := startServer(t)
	token := strings.TrimSpace(mustRun(t, nil, "apikey", "create", "--name", "editor", "--database-url", dbURL))
	env := []string{"SHORTLINKS_SERVER=" + server, "SHORTLINKS_API_KEY=" + token}

	var l httpapi.LinkJSON
	decode := func(out string) {
		t.Helper()
		l = httpapi.LinkJSON{}
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatalf("decode %q: %v", out, err)
		}
	}
	decode(mustRun(t, env, "shorten", "https://example.com/a", "--alias", "cli-edit", "--title", "First", "--tag", "one",
		"--tag", "Two", "--max-visits", "9", "--forward-query", "-o", "json"))
	if l.Title == nil || *l.Title != "First" || strings.Join(l.Tags, ",") != "one,two" || l.MaxVisits == nil || *l.MaxVisits != 9 || !l.ForwardQuery {
		t.Fatalf("shorten with options: %+v", l)
	}

	decode(mustRun(t, env, "edit", "cli-edit", "--url", "https://example.com/b", "--tag", "three", "--disable", "--reason", "spam",
		"--expires-in", "7d", "--max-visits", "0", "--forward-query=false", "-o", "json"))
	if l.URL != "https://example.com/b" || strings.Join(l.Tags, ",") != "three" || !l.Disabled || l.DisabledReason == nil ||
		*l.DisabledReason != "spam" || l.ExpiresAt == nil || l.MaxVisits != nil || l.ForwardQuery || l.Title == nil {
		t.Fatalf("after edit: %+v", l)
	}
	out := mustRun(t, env, "edit", "cli-edit", "--enable", "--no-expiry", "--title", "", "--no-tags")
	if !strings.Contains(out, "https://example.com/b") || strings.Contains(out, "disabled") || strings.Contains(out, "title") {
		t.Fatalf("edit printed:\n%s", out)
	}

	for _, args := range [][]string{
		{"edit", "cli-edit"},
		{"edit", "cli-edit", "--disable", "--enable"},
		{"edit", "cli-edit", "--reason", "why"},
		{"edit", "cli-edit", "--no-expiry", "--expires-in", "1d"},
		{"edit", "cli-edit", "--password-stdin"}, // nothing on standard input
	} {
		if _, err := run(t, env, args...); err == nil {
			t.Errorf("shortlinks %s succeeded", strings.Join(args, " "))
		}
	}
	if _, err := run(t, env, "edit", "nope-nope", "--title", "x"); err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Errorf("editing a missing link: %v", err)
	}
}
