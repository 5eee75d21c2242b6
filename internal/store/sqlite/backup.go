package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/pressly/goose/v3"

	"github.com/shortlinks/shortlinks/internal/store"
)

var _ store.Backuper = (*DB)(nil)

// Backup writes a consistent copy of the database to path while it keeps
// serving. VACUUM INTO reads the database in one read transaction, which in
// WAL mode neither waits for the writer nor holds it up, so creates go on
// during the copy and none of them is half in it. The copy is written
// beside path and renamed onto it only once it is complete, checked and on
// disk: a failed backup never leaves a partial file under path, nor
// replaces an earlier backup there.
func (db *DB) Backup(ctx context.Context, path string) (store.BackupInfo, error) {
	cur, _, err := db.SchemaVersion(ctx)
	if err != nil {
		return store.BackupInfo{}, err
	}
	if cur < 1 {
		return store.BackupInfo{}, errors.New("sqlite: backup: the database has no Shortlinks schema (was it ever served or migrated?)")
	}
	tmp, err := tempName(path)
	if err != nil {
		return store.BackupInfo{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	defer os.Remove(tmp)
	if _, err := db.read.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return store.BackupInfo{}, fmt.Errorf("sqlite: backup to %s: %w", path, translate(err))
	}
	// The copy keeps the WAL flag of its source; a backup is one
	// self-contained file, readable where it lies, so it gets a rollback
	// journal instead. serve switches it back to WAL when it is restored.
	if err := setRollbackJournal(ctx, tmp); err != nil {
		return store.BackupInfo{}, fmt.Errorf("sqlite: backup to %s: %w", path, err)
	}
	info, err := Inspect(ctx, tmp)
	if err != nil {
		return store.BackupInfo{}, fmt.Errorf("sqlite: backup to %s: the copy failed its check: %w", path, err)
	}
	if err := syncFile(tmp); err != nil {
		return store.BackupInfo{}, fmt.Errorf("sqlite: backup to %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return store.BackupInfo{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return store.BackupInfo{}, fmt.Errorf("sqlite: backup: %w", err)
	}
	return info, nil
}

func setRollbackJournal(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode=DELETE`).Scan(&mode); err != nil {
		return fmt.Errorf("journal mode: %w", err)
	}
	return db.Close()
}

// ErrNotShortlinks is returned by Inspect and Restore for a file that is
// not a Shortlinks SQLite database.
var ErrNotShortlinks = errors.New("not a Shortlinks SQLite database")

// Inspect checks that the file at path is a sound Shortlinks database whose
// schema this build knows, without changing it, and describes it. It
// returns an error wrapping ErrNotShortlinks for any other file, and one
// saying so for a database made by a newer Shortlinks.
func Inspect(ctx context.Context, path string) (store.BackupInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return store.BackupInfo{}, err
	}
	if !st.Mode().IsRegular() {
		return store.BackupInfo{}, fmt.Errorf("%s: %w", path, ErrNotShortlinks)
	}
	// immutable: nobody writes this file while it is read, so SQLite
	// takes no locks and leaves no -wal or -shm beside it.
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("immutable", "1")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return store.BackupInfo{}, err
	}
	defer db.Close()
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&check); err != nil {
		return store.BackupInfo{}, fmt.Errorf("%s: %w (%v)", path, ErrNotShortlinks, err)
	}
	if check != "ok" {
		return store.BackupInfo{}, fmt.Errorf("%s: the database is damaged: %s", path, check)
	}
	var tables int
	err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN (?, 'links', 'counters', 'settings')`,
		goose.DefaultTablename).Scan(&tables)
	if err != nil {
		return store.BackupInfo{}, fmt.Errorf("%s: %w (%v)", path, ErrNotShortlinks, err)
	}
	if tables != 4 {
		return store.BackupInfo{}, fmt.Errorf("%s: %w: it lacks Shortlinks' tables", path, ErrNotShortlinks)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return store.BackupInfo{}, err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		return store.BackupInfo{}, err
	}
	var info store.BackupInfo
	if info.SchemaVersion, err = p.GetDBVersion(ctx); err != nil {
		return store.BackupInfo{}, fmt.Errorf("%s: schema version: %w", path, err)
	}
	var known bool
	latest := int64(0)
	for _, s := range p.ListSources() {
		known = known || s.Version == info.SchemaVersion
		latest = max(latest, s.Version)
	}
	switch {
	case info.SchemaVersion > latest:
		return store.BackupInfo{}, fmt.Errorf("%s: the schema is at version %d, newer than this build knows (%d): use the Shortlinks release that made it", path, info.SchemaVersion, latest)
	case !known:
		return store.BackupInfo{}, fmt.Errorf("%s: %w: schema version %d is not one of Shortlinks' migrations", path, ErrNotShortlinks, info.SchemaVersion)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM links WHERE deleted_at IS NULL`).Scan(&info.Links); err != nil {
		return store.BackupInfo{}, fmt.Errorf("%s: count links: %w", path, err)
	}
	info.Bytes = st.Size()
	return info, nil
}

// ErrExists is returned by Restore when a database is already where the
// backup would go and force was not given.
var ErrExists = errors.New("a database is already there")

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Force replaces a database that is already at the destination.
	Force bool
	// SkipIDs moves the id counter this far past where the backup left it.
	// Codes handed out after the backup was taken are not in it; without
	// a skip, the restored database would issue them again, to new links.
	SkipIDs uint64
}

// Restore puts the backup at src in place as the database at dst, after
// checking it with Inspect. It refuses to replace an existing database
// unless opts.Force is set, since a server may be serving it: stop the
// servers first. The file is copied beside dst, its counter moved on by
// opts.SkipIDs, and renamed onto dst, so dst is always either the old
// database or the whole backup; the old database's -wal and -shm files go
// with it, or SQLite would replay them onto the backup.
func Restore(ctx context.Context, src, dst string, opts RestoreOptions) (store.BackupInfo, error) {
	info, err := Inspect(ctx, src)
	if err != nil {
		return store.BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	if _, err := os.Stat(dst); err == nil && !opts.Force {
		hint := ""
		if _, err := os.Stat(dst + "-wal"); err == nil {
			hint = " and looks in use (it has a -wal file)"
		}
		return store.BackupInfo{}, fmt.Errorf("sqlite: restore: %s: %w%s; stop the servers using it and give --force to replace it", dst, ErrExists, hint)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return store.BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	tmp, err := tempName(dst)
	if err != nil {
		return store.BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	defer os.Remove(tmp)
	if err := copyFile(src, tmp); err != nil {
		return store.BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	if opts.SkipIDs > 0 {
		if err := skipIDs(ctx, tmp, opts.SkipIDs); err != nil {
			return store.BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
		}
	}
	for _, side := range []string{dst + "-wal", dst + "-shm", dst + "-journal"} {
		if err := os.Remove(side); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return store.BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return store.BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return store.BackupInfo{}, fmt.Errorf("sqlite: restore: %w", err)
	}
	return info, nil
}

func skipIDs(ctx context.Context, path string, n uint64) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `UPDATE counters SET next = next + ? WHERE name = 'link_id'`, int64(n)); err != nil {
		return fmt.Errorf("skip ids: %w", err)
	}
	return db.Close()
}

// tempName returns an unused name beside path.
func tempName(path string) (string, error) {
	var b [6]byte
	rand.Read(b[:])
	tmp := path + ".tmp-" + hex.EncodeToString(b[:])
	if _, err := os.Stat(filepath.Dir(path)); err != nil {
		return "", err
	}
	return tmp, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
