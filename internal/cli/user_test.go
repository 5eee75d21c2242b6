package cli_test

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/cli"
	"github.com/shortlinks/shortlinks/internal/config"
)

// runIn runs the command line with stdin as its standard input.
func runIn(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := cli.RunWithInput(t.Context(), args, strings.NewReader(stdin), &stdout, &stderr, nil)
	return stdout.String(), err
}

// signIn checks email and password against the database at dbURL.
func signIn(t *testing.T, dbURL, email, password string) error {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = dbURL
	st, err := app.OpenStorage(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	users, err := st.Accounts(nil, account.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = users.SignIn(t.Context(), email, password, "")
	return err
}

func TestUserCommands(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "links.db")
	db := []string{"--database-url", dbURL}

	out, err := runIn(t, "a long admin password\n", append([]string{"user", "create", "--email", "Ada@Example.com", "--admin", "--password-stdin"}, db...)...)
	if err != nil {
		t.Fatalf("user create --admin: %v", err)
	}
	if !strings.Contains(out, "created admin ada@example.com") {
		t.Errorf("user create printed %q", out)
	}
	if _, err := runIn(t, "a long member password\n", append([]string{"user", "create", "--email", "bo@example.com", "--password-stdin"}, db...)...); err != nil {
		t.Fatalf("user create: %v", err)
	}

	// Mistakes are refused with the service's own words.
	_, err = runIn(t, "another long password\n", append([]string{"user", "create", "--email", "BO@example.com", "--password-stdin"}, db...)...)
	if !errors.Is(err, account.ErrEmailTaken) {
		t.Errorf("a second bo@example.com: %v, want email_taken", err)
	}
	_, err = runIn(t, "short\n", append([]string{"user", "create", "--email", "cy@example.com", "--password-stdin"}, db...)...)
	if err == nil || !strings.Contains(err.Error(), "invalid_password") {
		t.Errorf("a short password: %v, want invalid_password", err)
	}
	_, err = runIn(t, "", append([]string{"user", "create", "--email", "cy@example.com", "--password-stdin"}, db...)...)
	if err == nil || !strings.Contains(err.Error(), "no password") {
		t.Errorf("empty standard input: %v", err)
	}
	// Without --password-stdin the password is asked for on a terminal,
	// which a test's input is not.
	_, err = runIn(t, "a long member password\n", append([]string{"user", "create", "--email", "cy@example.com"}, db...)...)
	if err == nil || !strings.Contains(err.Error(), "not a terminal") {
		t.Errorf("no terminal: %v", err)
	}

	out, err = runIn(t, "", append([]string{"user", "list"}, db...)...)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "ada@example.com") || !strings.Contains(lines[1], "admin") ||
		!strings.Contains(lines[2], "bo@example.com") || !strings.Contains(lines[2], "member") || !strings.HasSuffix(lines[2], "active") {
		t.Fatalf("user list:\n%s", out)
	}

	if err := signIn(t, dbURL, "bo@example.com", "a long member password"); err != nil {
		t.Fatalf("sign in as bo: %v", err)
	}
	if _, err := runIn(t, "a brand new password\n", append([]string{"user", "reset-password", "bo@example.com", "--password-stdin"}, db...)...); err != nil {
		t.Fatalf("user reset-password: %v", err)
	}
	if err := signIn(t, dbURL, "bo@example.com", "a long member password"); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Errorf("the old password after a reset: %v", err)
	}
	if err := signIn(t, dbURL, "bo@example.com", "a brand new password"); err != nil {
		t.Errorf("the new password after a reset: %v", err)
	}

	if _, err := runIn(t, "", append([]string{"user", "disable", "bo@example.com"}, db...)...); err != nil {
		t.Fatalf("user disable: %v", err)
	}
	if err := signIn(t, dbURL, "bo@example.com", "a brand new password"); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Errorf("a disabled user signs in: %v", err)
	}
	out, _ = runIn(t, "", append([]string{"user", "list"}, db...)...)
	if !strings.Contains(out, "disabled") {
		t.Errorf("user list does not show bo disabled:\n%s", out)
	}
	// The last admin stays.
	if _, err := runIn(t, "", append([]string{"user", "disable", "ada@example.com"}, db...)...); !errors.Is(err, account.ErrLastAdmin) {
		t.Errorf("disable the last admin: %v, want last_admin", err)
	}
	if _, err := runIn(t, "", append([]string{"user", "disable", "nobody@example.com"}, db...)...); !errors.Is(err, account.ErrUserNotFound) {
		t.Errorf("disable an unknown user: %v, want user_not_found", err)
	}
}

// TestFirstAdminFromEnvironment starts the server as a container would,
// with the first admin in its environment: it is made once, and a
// restart with another password changes nothing.
func TestFirstAdminFromEnvironment(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "links.db")
	start := func(password string) error {
		cfg, err := config.FromEnv([]string{
			"SHORTLINKS_DATABASE_URL=" + dbURL,
			"SHORTLINKS_ADMIN_EMAIL=root@example.com",
			"SHORTLINKS_ADMIN_PASSWORD=" + password,
		})
		if err != nil {
			t.Fatal(err)
		}
		a, err := app.New(t.Context(), cfg, slog.New(slog.DiscardHandler), app.Telemetry{})
		if err == nil {
			a.Close()
		}
		return err
	}
	if err := start("short"); err == nil || !strings.Contains(err.Error(), "admin-password") {
		t.Fatalf("a short admin password: %v, want a refusal naming admin-password", err)
	}
	if err := start("the first admin password"); err != nil {
		t.Fatal(err)
	}
	if err := start("a different admin password"); err != nil {
		t.Fatal(err)
	}
	if err := signIn(t, dbURL, "root@example.com", "the first admin password"); err != nil {
		t.Errorf("sign in as the first admin: %v", err)
	}
	out, _ := runIn(t, "", "user", "list", "--database-url", dbURL)
	if n := strings.Count(out, "root@example.com"); n != 1 {
		t.Errorf("user list shows root@example.com %d times:\n%s", n, out)
	}
}
