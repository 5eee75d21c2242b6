package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/link"
)

// TestAccountsMigration checks that keys made before accounts become
// ownerless keys with the scopes their admin flag implied, and that the
// accounts migration can be rolled back and applied again.
func TestAccountsMigration(t *testing.T) {
	db, p := migratedTo(t, 1)
	at := time.Now().UnixMicro()
	for _, k := range []struct {
		name  string
		admin bool
	}{{"plain", false}, {"admin", true}} {
		if _, err := db.write.ExecContext(t.Context(),
			`INSERT INTO api_keys (name, prefix, hash, admin, created_at) VALUES (?, ?, ?, ?, ?)`,
			k.name, "sl_"+k.name, []byte("hash-"+k.name), k.admin, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		var scopes []string
		rows, err := db.read.QueryContext(t.Context(), `SELECT coalesce(scopes, '') FROM api_keys ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			scopes = append(scopes, s)
		}
		rows.Close()
		if len(scopes) != 2 || scopes[0] != "links:read links:write" || scopes[1] != "links:read links:write admin" {
			t.Fatalf("%s: stored scopes %q", when, scopes)
		}
		keys, err := db.ListKeys(t.Context())
		if err != nil || len(keys) != 2 {
			t.Fatalf("%s: ListKeys = %v, %v", when, keys, err)
		}
		if k := keys[0]; k.UserID != 0 || k.Scopes != apikey.LegacyScopes(false) || !k.ExpiresAt.IsZero() {
			t.Errorf("%s: plain key = %+v", when, k)
		}
		if k := keys[1]; k.UserID != 0 || k.Scopes != link.AllScopes || !k.Admin {
			t.Errorf("%s: admin key = %+v", when, k)
		}
	}
	check("migrated")
	if _, err := p.DownTo(t.Context(), 2); err != nil {
		t.Fatalf("rolling back the accounts migration: %v", err)
	}
	if _, err := db.write.ExecContext(t.Context(), `SELECT user_id FROM api_keys`); err == nil {
		t.Fatal("api_keys.user_id is still there after rolling back")
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("migrating again: %v", err)
	}
	check("migrated again")
}

// migratedTo opens a new database migrated up to version only, closed
// when the test ends, and returns it with its migrations to go on with.
func migratedTo(t *testing.T, version int64) (*DB, *goose.Provider) {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "links.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p, err := db.provider()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), version); err != nil {
		t.Fatal(err)
	}
	return db, p
}
