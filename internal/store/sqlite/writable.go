package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// checkWritable reports, before SQLite opens path, anything that would
// keep the server from writing the database: SQLite itself opens a file it
// cannot write read-only, without a word, and the first create fails. In
// WAL mode it writes the file, and creates and writes path-wal and
// path-shm beside it, so the directory must be writable too.
func checkWritable(path string) error {
	dir := filepath.Dir(path)
	if err := access(dir, 2|1); err != nil { // W_OK|X_OK
		return notWritable(dir, "directory", err, path)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := access(f, 2); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return notWritable(f, "file", err, path)
		}
	}
	return nil
}

func access(path string, mode uint32) error {
	if err := syscall.Access(path, mode); err != nil {
		return &fs.PathError{Op: "access", Path: path, Err: err}
	}
	return nil
}

// notWritable says what is wrong and what to do about it.
func notWritable(what, kind string, err error, db string) error {
	var hint string
	switch {
	case errors.Is(err, syscall.EROFS):
		hint = "it is on a read-only file system; put the database on a writable volume"
	case kind == "directory":
		hint = fmt.Sprintf("the server creates %s-wal and %s-shm in it; make it writable by the user the server runs as (uid %d)",
			filepath.Base(db), filepath.Base(db), os.Geteuid())
	case filepath.Ext(what) == ".db-wal" || filepath.Ext(what) == ".db-shm" || what != db:
		hint = fmt.Sprintf("it was probably left by a run as another user: with the server stopped, give it to the user the server runs as (uid %d) or remove it", os.Geteuid())
	default:
		hint = fmt.Sprintf("make it writable by the user the server runs as (uid %d)", os.Geteuid())
	}
	return fmt.Errorf("sqlite: the %s %s is not writable (%v): %s", kind, what, errors.Unwrap(err), hint)
}

// probeName is the settings row WriteProbe rewrites.
const probeName = "write_probe"

// WriteProbe commits a small write, as a create would, and reports why it
// failed: a read-only file, a full disk, a lock held too long. Readiness
// asks it so that an instance that cannot create links says so.
func (db *DB) WriteProbe(ctx context.Context) error {
	_, err := db.write.ExecContext(ctx,
		`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
		probeName, time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("sqlite: write probe: %w", err)
	}
	return nil
}

// cleanUpAfterFailedOpen removes the -wal and -shm files an Open that
// failed created, when the -wal holds nothing: left behind, they could
// belong to the wrong user or hold a stale lock state, and keep the next
// start failing after the cause is fixed.
func cleanUpAfterFailedOpen(path string, existed map[string]bool) {
	wal := path + "-wal"
	if existed[wal] || existed[path+"-shm"] {
		return
	}
	if fi, err := os.Stat(wal); err == nil && fi.Size() > 0 {
		return // it holds commits: never throw them away
	}
	os.Remove(wal)
	os.Remove(path + "-shm")
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
