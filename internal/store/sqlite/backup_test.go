package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store/sqlite"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
)

func insert(t *testing.T, db *sqlite.DB, code string) {
	t.Helper()
	_, err := db.Insert(context.Background(), link.Link{Code: link.Code(code), URL: "https://example.com/" + code, CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
}

// A backup taken while a writer inserts holds a prefix of the inserts: every
// link acknowledged before it began, and no torn state after.
func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	db := sqlitetest.OpenFile(t, filepath.Join(dir, "live.db"))
	for i := range 200 {
		insert(t, db, fmt.Sprintf("before%d", i))
	}
	var wg sync.WaitGroup
	var stop atomic.Bool
	var written atomic.Int64
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			insert(t, db, fmt.Sprintf("during%d", i))
			written.Add(1)
		}
	})
	for written.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	out := filepath.Join(dir, "backup.db")
	info, err := db.Backup(t.Context(), out)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if info.Links < 220 || info.Links > 200+written.Load() {
		t.Errorf("backup holds %d links; want between 220 and %d", info.Links, 200+written.Load())
	}
	if _, latest, _ := db.SchemaVersion(t.Context()); info.SchemaVersion != latest {
		t.Errorf("backup schema version %d, want %d", info.SchemaVersion, latest)
	}
	for _, side := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(out + side); err == nil {
			t.Errorf("the backup left %s beside it; a backup is one file", out+side)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	restored := filepath.Join(dir, "restored.db")
	if _, err := sqlite.Restore(t.Context(), out, restored, sqlite.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	r := sqlitetest.OpenFile(t, restored)
	if _, err := r.Get(t.Context(), "before199"); err != nil {
		t.Errorf("a link made before the backup: %v", err)
	}
	if _, err := r.Get(t.Context(), link.Code(fmt.Sprintf("during%d", written.Load()-1))); !errors.Is(err, link.ErrNotFound) {
		t.Errorf("the last link made after the backup began: %v, want ErrNotFound", err)
	}
}

func TestBackupNeedsSchema(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "empty.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Backup(t.Context(), filepath.Join(t.TempDir(), "b.db")); err == nil || !strings.Contains(err.Error(), "no Shortlinks schema") {
		t.Fatalf("Backup of an unmigrated database = %v, want a refusal", err)
	}
}

func TestRestoreRefuses(t *testing.T) {
	dir := t.TempDir()
	db := sqlitetest.OpenFile(t, filepath.Join(dir, "live.db"))
	insert(t, db, "abc")
	backup := filepath.Join(dir, "backup.db")
	if _, err := db.Backup(t.Context(), backup); err != nil {
		t.Fatal(err)
	}

	t.Run("existing database without force", func(t *testing.T) {
		_, err := sqlite.Restore(t.Context(), backup, filepath.Join(dir, "live.db"), sqlite.RestoreOptions{})
		if !errors.Is(err, sqlite.ErrExists) || !strings.Contains(err.Error(), "--force") {
			t.Fatalf("Restore over a live database = %v, want ErrExists naming --force", err)
		}
	})
	t.Run("a file that is not a database", func(t *testing.T) {
		junk := filepath.Join(dir, "junk.db")
		os.WriteFile(junk, []byte("hello, this is not SQLite at all, and it is long enough to look like a header"), 0o600)
		_, err := sqlite.Restore(t.Context(), junk, filepath.Join(dir, "new1.db"), sqlite.RestoreOptions{})
		if !errors.Is(err, sqlite.ErrNotShortlinks) {
			t.Fatalf("Restore(junk) = %v, want ErrNotShortlinks", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "new1.db")); err == nil {
			t.Error("a refused restore created the target")
		}
	})
	t.Run("another application's database", func(t *testing.T) {
		other := filepath.Join(dir, "other.db")
		o, err := sqlite.Open(t.Context(), other) // the file, without Shortlinks' tables
		if err != nil {
			t.Fatal(err)
		}
		o.Close()
		if _, err := sqlite.Restore(t.Context(), other, filepath.Join(dir, "new2.db"), sqlite.RestoreOptions{}); !errors.Is(err, sqlite.ErrNotShortlinks) {
			t.Fatalf("Restore(other) = %v, want ErrNotShortlinks", err)
		}
	})
	t.Run("a schema newer than this build", func(t *testing.T) {
		newer := filepath.Join(dir, "newer.db")
		n := sqlitetest.OpenFile(t, newer)
		if _, err := n.Backup(t.Context(), newer+".bak"); err != nil {
			t.Fatal(err)
		}
		n.Close()
		bumpVersion(t, newer+".bak", 99999)
		_, err := sqlite.Restore(t.Context(), newer+".bak", filepath.Join(dir, "new3.db"), sqlite.RestoreOptions{})
		if err == nil || !strings.Contains(err.Error(), "newer than this build knows") {
			t.Fatalf("Restore(newer) = %v, want a refusal naming the version", err)
		}
	})
	t.Run("force replaces, and the old WAL goes", func(t *testing.T) {
		target := filepath.Join(dir, "target.db")
		tdb := sqlitetest.OpenFile(t, target)
		insert(t, tdb, "only-in-target")
		tdb.Close()
		if _, err := sqlite.Restore(t.Context(), backup, target, sqlite.RestoreOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		r := sqlitetest.OpenFile(t, target)
		if _, err := r.Get(t.Context(), "abc"); err != nil {
			t.Errorf("restored link: %v", err)
		}
		if _, err := r.Get(t.Context(), "only-in-target"); !errors.Is(err, link.ErrNotFound) {
			t.Errorf("the replaced database's link: %v, want ErrNotFound", err)
		}
	})
}

// bumpVersion records a migration this build does not have.
func bumpVersion(t *testing.T, path string, v int64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, v); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreSkipsIDs(t *testing.T) {
	dir := t.TempDir()
	db := sqlitetest.OpenFile(t, filepath.Join(dir, "live.db"))
	first, err := db.ReserveIDs(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Backup(t.Context(), filepath.Join(dir, "b.db")); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Restore(t.Context(), filepath.Join(dir, "b.db"), filepath.Join(dir, "r.db"), sqlite.RestoreOptions{SkipIDs: 1000}); err != nil {
		t.Fatal(err)
	}
	next, err := sqlitetest.OpenFile(t, filepath.Join(dir, "r.db")).ReserveIDs(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := first + 10 + 1000; next != want {
		t.Fatalf("first id after a restore skipping 1000: %d, want %d", next, want)
	}
}
