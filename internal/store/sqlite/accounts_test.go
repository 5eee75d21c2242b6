package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/shortlinks/shortlinks/internal/store/sqlite"
	"github.com/shortlinks/shortlinks/internal/store/storetest"
)

func TestAccountsConformance(t *testing.T) {
	storetest.RunAccounts(t, func(t *testing.T) storetest.AccountStore {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "accounts.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return db
	})
}
