package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/cli"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// run runs the command line and returns its stdout.
func run(t *testing.T, environ []string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := cli.Run(t.Context(), args, &stdout, &stderr, environ)
	return stdout.String(), err
}

func mustRun(t *testing.T, environ []string, args ...string) string {
	t.Helper()
	out, err := run(t, environ, args...)
	if err != nil {
		t.Fatalf("shortlinks %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// startServer runs a real server over SQLite in a temp dir and returns its
// address and database URL.
func startServer(t *testing.T) (server, dbURL string) {
	t.Helper()
	s := apptest.Start(t, slog.New(slog.DiscardHandler), app.Telemetry{}, func(c *config.Config) {
		c.CreateRate, dbURL = 0, c.DatabaseURL
	})
	return s.URL, dbURL
}

// serve runs a real server over the database dbURL and returns its
// address.
func serve(t *testing.T, dbURL string) string {
	t.Helper()
	return apptest.Start(t, slog.New(slog.DiscardHandler), app.Telemetry{}, func(c *config.Config) {
		c.CreateRate, c.DatabaseURL = 0, dbURL
	}).URL
}

func TestClientCommands(t *testing.T) {
	server, dbURL := startServer(t)

	// Keys are made on the database directly.
	token := strings.TrimSpace(mustRun(t, nil, "apikey", "create", "--name", "ci", "--database-url", dbURL))
	if !strings.HasPrefix(token, "sl_") {
		t.Fatalf("apikey create printed %q", token)
	}
	env := []string{"SHORTLINKS_SERVER=" + server, "SHORTLINKS_API_KEY=" + token}

	short := strings.TrimSpace(mustRun(t, env, "shorten", "https://example.com/cli", "--alias", "from-cli", "--expires-in", "7d"))
	if short != server+"/from-cli" {
		t.Fatalf("shorten printed %q", short)
	}
	out := mustRun(t, env, "shorten", "https://example.com/json", "-o", "json")
	var made struct {
		Code      string     `json:"code"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(out), &made); err != nil || len(made.Code) != 7 || made.ExpiresAt != nil {
		t.Fatalf("shorten -o json printed %q", out)
	}

	info := mustRun(t, env, "info", "from-cli")
	if !strings.Contains(info, "https://example.com/cli") || strings.Contains(info, "never") {
		t.Fatalf("info printed %q", info)
	}
	list := mustRun(t, env, "list")
	if !strings.Contains(list, "from-cli") || !strings.Contains(list, made.Code) {
		t.Fatalf("list printed %q", list)
	}
	if out := mustRun(t, env, "delete", "from-cli"); !strings.Contains(out, "deleted from-cli") {
		t.Fatalf("delete printed %q", out)
	}
	_, err := run(t, env, "info", "from-cli")
	if err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Fatalf("info after delete: %v", err)
	}

	// Flags beat the environment, and errors name the server's code.
	_, err = run(t, env, "info", made.Code, "--api-key", "sl_WRONGWRONGWRONGWRONGWRONG")
	if err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("info with a bad --api-key: %v", err)
	}
	_, err = run(t, env, "shorten", "javascript:alert(1)")
	if err == nil || !strings.Contains(err.Error(), "url_scheme_not_allowed") {
		t.Fatalf("shorten of a javascript: URL: %v", err)
	}
	if _, err := run(t, env, "shorten", "https://example.com", "--expires-in", "soon"); err == nil {
		t.Fatal("shorten with --expires-in soon succeeded")
	}
}

func TestAPIKeyCommands(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "links.db")
	mustRun(t, nil, "apikey", "create", "--name", "first", "--database-url", dbURL)
	mustRun(t, nil, "apikey", "create", "--name", "boss", "--admin", "--database-url", dbURL)
	if out := mustRun(t, nil, "apikey", "revoke", "1", "--database-url", dbURL); !strings.Contains(out, "revoked key 1") {
		t.Fatalf("revoke printed %q", out)
	}
	out := mustRun(t, []string{"SHORTLINKS_DATABASE_URL=" + dbURL}, "apikey", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "first") || !strings.Contains(lines[1], "revoked") ||
		!strings.Contains(lines[2], "boss") || !strings.Contains(lines[2], "links:read,links:write,admin") || !strings.Contains(lines[2], "active") {
		t.Fatalf("apikey list printed:\n%s", out)
	}
	if _, err := run(t, nil, "apikey", "revoke", "99", "--database-url", dbURL); err == nil {
		t.Fatal("revoking an unknown key succeeded")
	}
	if _, err := run(t, nil, "apikey", "create", "--database-url", dbURL); err == nil {
		t.Fatal("apikey create without --name succeeded")
	}
}

func TestMigrateAndVersion(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "links.db")
	if out := mustRun(t, nil, "migrate", "--database-url", dbURL); !strings.Contains(out, "migrated schema from version 0 to") {
		t.Fatalf("first migrate printed %q", out)
	}
	if out := mustRun(t, nil, "migrate", "--database-url", dbURL); !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate printed %q", out)
	}
	if out := mustRun(t, nil, "version"); !strings.HasPrefix(out, "shortlinks ") {
		t.Fatalf("version printed %q", out)
	}
}

func TestHelpAndErrors(t *testing.T) {
	for _, cmd := range [][]string{
		{"--help"}, {"serve", "--help"}, {"migrate", "--help"}, {"shorten", "--help"}, {"info", "--help"},
		{"delete", "--help"}, {"list", "--help"}, {"apikey", "--help"}, {"apikey", "create", "--help"}, {"version", "--help"},
	} {
		out, err := run(t, nil, cmd...)
		if err != nil || !strings.Contains(out, "Usage:") {
			t.Errorf("shortlinks %s: %v\n%s", strings.Join(cmd, " "), err, out)
		}
	}
	if out := mustRun(t, nil, "serve", "--help"); !strings.Contains(out, "SHORTLINKS_DATABASE_URL") || !strings.Contains(out, "--base-url") {
		t.Errorf("serve --help does not list settings with their variables:\n%s", out)
	}
	if _, err := run(t, nil, "frobnicate"); err == nil {
		t.Error("unknown command succeeded")
	}
	_, err := run(t, nil, "serve", "--redirect-status", "200")
	if err == nil || !strings.Contains(err.Error(), "redirect-status") {
		t.Errorf("serve with a bad setting: %v", err)
	}
	_, err = run(t, []string{"SHORTLINKS_SERVER=http://127.0.0.1:1"}, "info", "abc")
	if err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("info against a closed port: %v", err)
	}
}

// TestHealthcheck checks the command containers use as their healthcheck.
func TestHealthcheck(t *testing.T) {
	server, _ := startServer(t)
	if out := mustRun(t, nil, "healthcheck", "--url", server+"/readyz"); !strings.Contains(out, "200") {
		t.Errorf("healthcheck of a ready server printed %q", out)
	}
	if _, err := run(t, nil, "healthcheck", "--url", server+"/nothere"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("healthcheck of a 404 = %v, want an error naming the status", err)
	}
	closed := "http://" + servicetest.FreeAddr(t) + "/readyz"
	if _, err := run(t, nil, "healthcheck", "--url", closed, "--timeout", "1s"); err == nil {
		t.Error("healthcheck of a closed port succeeded")
	}
}
