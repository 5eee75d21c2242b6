package cli_test

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/config"

	_ "modernc.org/sqlite"
)

// makeUser stores a user in the database at dbURL.
func makeUser(t *testing.T, dbURL, email string, role account.Role) account.User {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = dbURL
	db, err := app.OpenStorage(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Prepare(t.Context()); err != nil {
		t.Fatal(err)
	}
	u, err := account.New(db.Engine.(account.Store), account.Options{}).Create(t.Context(), account.Operator,
		account.NewUser{Email: email, Password: "correct horse battery staple", Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// status sends a request with key and returns the status and error code.
func status(t *testing.T, method, url, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Error.Code
}

func TestAPIKeyOwnersScopesAndExpiry(t *testing.T) {
	server, dbURL := startServer(t)
	makeUser(t, dbURL, "member@example.com", account.RoleMember)
	makeUser(t, dbURL, "boss@example.com", account.RoleAdmin)
	create := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(mustRun(t, nil, append([]string{"apikey", "create", "--database-url", dbURL}, args...)...))
	}
	reader := create("--name", "reader", "--user", "Member@Example.com", "--scopes", "links:read")
	writer := create("--name", "writer", "--user", "member@example.com")
	boss := create("--name", "boss", "--user", "boss@example.com")
	service := create("--name", "service")
	brief := create("--name", "brief", "--expires-in", "1s")
	briefMade := time.Now() // it expires within a second of this

	if _, err := run(t, nil, "apikey", "create", "--database-url", dbURL, "--name", "x", "--user", "member@example.com", "--admin"); err == nil {
		t.Error("an admin key for a member was made")
	}
	if _, err := run(t, nil, "apikey", "create", "--database-url", dbURL, "--name", "x", "--user", "member@example.com", "--scopes", "links:read,admin"); err == nil {
		t.Error("a key with the admin scope was made for a member")
	}
	if _, err := run(t, nil, "apikey", "create", "--database-url", dbURL, "--name", "x", "--scopes", "links:delete"); err == nil ||
		!strings.Contains(err.Error(), "invalid_scope") {
		t.Errorf("an unknown scope: %v", err)
	}
	if _, err := run(t, nil, "apikey", "create", "--database-url", dbURL, "--name", "x", "--user", "nobody@example.com"); err == nil {
		t.Error("a key for an unknown user was made")
	}

	out := mustRun(t, nil, "apikey", "list", "--database-url", dbURL)
	// NAME, USER, SCOPES and STATUS of each key, in order.
	want := [][4]string{
		{"reader", "member@example.com", "links:read", "active"},
		{"writer", "member@example.com", "links:read,links:write", "active"},
		{"boss", "boss@example.com", "links:read,links:write,admin", "active"},
		{"service", "(service)", "links:read,links:write", "active"},
		{"brief", "(service)", "links:read,links:write", ""}, // active or, on a slow machine, expired already
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")[1:]
	if len(lines) != len(want) {
		t.Fatalf("apikey list printed:\n%s", out)
	}
	for i, w := range want {
		f := strings.Fields(lines[i])
		got := [4]string{f[1], f[3], f[4], f[len(f)-1]}
		if w[3] == "" {
			got[3] = ""
		}
		if got != w {
			t.Errorf("apikey list line %d = %v, want %v", i+1, got, w)
		}
	}

	links := server + "/api/v1/links"
	if s, c := status(t, "POST", links, reader, `{"url":"https://example.com/r"}`); s != 403 || c != "insufficient_scope" {
		t.Errorf("create with a read-only key: %d %s", s, c)
	}
	if s, _ := status(t, "GET", links, reader, ""); s != 200 {
		t.Errorf("list with a read-only key: %d", s)
	}
	if s, _ := status(t, "POST", links, writer, `{"url":"https://example.com/w","alias":"by-writer"}`); s != 201 {
		t.Errorf("create with a member's key: %d", s)
	}
	if s, c := status(t, "DELETE", links+"/by-writer", reader, ""); s != 403 || c != "insufficient_scope" {
		t.Errorf("delete with a read-only key: %d %s", s, c)
	}
	if s, _ := status(t, "GET", links+"/by-writer", boss, ""); s != 200 {
		t.Errorf("an admin's key reading a member's link: %d", s)
	}
	if s, _ := status(t, "GET", links+"/by-writer", service, ""); s != 404 {
		t.Errorf("a plain service key reading another's link: %d", s)
	}
	if s, c := status(t, "GET", server+"/api/v1/audit", writer, ""); s != 403 || c != "admin_required" {
		t.Errorf("audit log with a member's key: %d %s", s, c)
	}

	time.Sleep(time.Until(briefMade.Add(1100 * time.Millisecond)))
	if s, c := status(t, "GET", links, brief, ""); s != 401 || c != "key_expired" {
		t.Errorf("an expired key: %d %s", s, c)
	}
	if out := mustRun(t, nil, "apikey", "list", "--database-url", dbURL); !strings.Contains(out, "expired") {
		t.Errorf("apikey list does not show the expired key:\n%s", out)
	}
}

func TestAuditList(t *testing.T) {
	server, dbURL := startServer(t)
	makeUser(t, dbURL, "boss@example.com", account.RoleAdmin)
	boss := strings.TrimSpace(mustRun(t, nil, "apikey", "create", "--database-url", dbURL, "--name", "boss", "--user", "boss@example.com"))
	mustRun(t, nil, "apikey", "create", "--database-url", dbURL, "--name", "other")
	mustRun(t, nil, "apikey", "revoke", "2", "--database-url", dbURL)
	other2 := strings.TrimSpace(mustRun(t, nil, "apikey", "create", "--database-url", dbURL, "--name", "other2"))
	if s, _ := status(t, "POST", server+"/api/v1/links", other2, `{"url":"https://example.com/x","alias":"theirs"}`); s != 201 {
		t.Fatalf("create: %d", s)
	}
	if s, _ := status(t, "DELETE", server+"/api/v1/links/theirs", boss, ""); s != 204 {
		t.Fatalf("admin delete: %d", s)
	}

	out := mustRun(t, nil, "audit", "list", "--database-url", dbURL, "--limit", "10")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"link.delete", "key.create", "key.revoke", "key.create", "key.create"}
	if len(lines) != len(want)+1 {
		t.Fatalf("audit list printed:\n%s", out)
	}
	for i, w := range want {
		if !strings.Contains(lines[i+1], " "+w+" ") {
			t.Errorf("line %d = %q, want %s", i+1, lines[i+1], w)
		}
	}
	if !strings.Contains(lines[1], "boss@example.com (key 1)") || !strings.Contains(lines[1], "link theirs") ||
		!strings.Contains(lines[1], `"owner_key_id":3`) {
		t.Errorf("the delete's entry: %q", lines[1])
	}
	if !strings.Contains(lines[2], "operator") {
		t.Errorf("a key made on the command line is not the operator's: %q", lines[2])
	}
	if out := mustRun(t, nil, "audit", "list", "--database-url", dbURL, "--limit", "1", "--action", "key."); strings.Count(out, "\n") != 2 ||
		!strings.Contains(out, "key.create") {
		t.Errorf("audit list --limit 1 --action key. printed:\n%s", out)
	}

	var page struct {
		Entries []struct {
			Action      string `json:"action"`
			ActorUserID *int64 `json:"actor_user_id"`
		} `json:"entries"`
		NextBefore *int64 `json:"next_before"`
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", server+"/api/v1/audit?limit=2", nil)
	req.Header.Set("Authorization", "Bearer "+boss)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/v1/audit: %d %v", resp.StatusCode, err)
	}
	if len(page.Entries) != 2 || page.Entries[0].Action != "link.delete" || page.Entries[0].ActorUserID == nil || page.NextBefore == nil {
		t.Errorf("GET /api/v1/audit?limit=2 = %+v", page)
	}
}

// TestKeysFromBeforeScopes holds the promise made to existing keys: a key
// row as the release before accounts wrote it (no user, no expiry, no
// scopes) is an ownerless service key that keeps what it could do.
func TestKeysFromBeforeScopes(t *testing.T) {
	server, dbURL := startServer(t)
	old := strings.TrimSpace(mustRun(t, nil, "apikey", "create", "--database-url", dbURL, "--name", "old"))
	oldAdmin := strings.TrimSpace(mustRun(t, nil, "apikey", "create", "--database-url", dbURL, "--name", "old-admin", "--admin"))
	raw, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(dbURL, "sqlite:")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	res, err := raw.ExecContext(t.Context(), `UPDATE api_keys SET scopes = NULL, user_id = NULL, expires_at = NULL`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 2 {
		t.Fatalf("%d key rows, want 2", n)
	}

	links := server + "/api/v1/links"
	if s, _ := status(t, "POST", links, old, `{"url":"https://example.com/old","alias":"from-old"}`); s != 201 {
		t.Errorf("create with an old key: %d", s)
	}
	if s, _ := status(t, "GET", links+"/from-old", old, ""); s != 200 {
		t.Errorf("read with an old key: %d", s)
	}
	if s, c := status(t, "GET", server+"/api/v1/reports", old, ""); s != 403 || c != "admin_required" {
		t.Errorf("an old plain key on an admin route: %d %s", s, c)
	}
	if s, _ := status(t, "GET", server+"/api/v1/reports", oldAdmin, ""); s != 200 {
		t.Errorf("an old admin key on an admin route: %d", s)
	}
	if s, _ := status(t, "DELETE", links+"/from-old", oldAdmin, ""); s != 204 {
		t.Errorf("an old admin key deleting another's link: %d", s)
	}
	out := mustRun(t, nil, "apikey", "list", "--database-url", dbURL)
	if !strings.Contains(out, "(service)  links:read,links:write,admin") || !strings.Contains(out, "(service)  links:read,links:write  ") {
		t.Errorf("apikey list does not show old keys as service keys with their old scopes:\n%s", out)
	}
}
