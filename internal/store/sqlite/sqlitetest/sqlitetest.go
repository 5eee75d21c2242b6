// Package sqlitetest gives tests a migrated SQLite database of their own in
// a temporary directory, removed when the test ends. It is for tests only.
package sqlitetest

import (
	"path/filepath"
	"testing"

	"github.com/shortlinks/shortlinks/internal/store/sqlite"
)

// Open returns a new, migrated database in a temporary directory. It is
// closed when the test ends.
func Open(tb testing.TB) *sqlite.DB {
	tb.Helper()
	return OpenFile(tb, filepath.Join(tb.TempDir(), "links.db"))
}

// OpenFile opens the database file at path, creating it if need be, and
// migrates it. It is closed when the test ends, if the test has not closed
// it already; a test that restarts a server calls OpenFile again on the same
// path.
func OpenFile(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(tb.Context(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	return db
}
