package postgres

import (
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
)

// TestAccountsMigration checks that keys made before accounts become
// ownerless keys with the scopes their admin flag implied, and that the
// accounts migration can be rolled back and applied again.
func TestAccountsMigration(t *testing.T) {
	db, err := Open(t.Context(), Options{URL: pgtest.Database(t), MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, sqlDB, err := db.provider()
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	if _, err := p.UpTo(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	pool := db.primary.pool
	for _, k := range []struct {
		name  string
		admin bool
	}{{"plain", false}, {"admin", true}} {
		if _, err := pool.Exec(t.Context(),
			`INSERT INTO api_keys (name, prefix, hash, admin, created_at) VALUES ($1, $2, $3, $4, $5)`,
			k.name, "sl_"+k.name, []byte("hash-"+k.name), k.admin, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		var scopes []string
		rows, err := pool.Query(t.Context(), `SELECT array_to_string(scopes, ' ') FROM api_keys ORDER BY id`)
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
	if _, err := pool.Exec(t.Context(), `SELECT user_id FROM api_keys`); err == nil {
		t.Fatal("api_keys.user_id is still there after rolling back")
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("migrating again: %v", err)
	}
	check("migrated again")
}
