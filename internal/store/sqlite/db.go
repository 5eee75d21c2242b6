// Package sqlite stores links in an embedded SQLite database through a pure-Go
// driver. It is the default engine: one file, one process, no setup.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ store.Engine = (*DB)(nil)

// DB is a SQLite database holding links, the id counter, settings and API
// keys. Writes go through one connection, as SQLite allows one writer at a
// time; reads use a pool and, in WAL mode, never wait for the writer.
type DB struct {
	write *sql.DB
	read  *sql.DB
	get   *sql.Stmt
}

// Open opens or creates the database file at path. It does not migrate.
// It fails, saying what to do, when the database cannot be written: a file,
// its directory or a -wal or -shm file that is not writable, a read-only
// file system, a full disk.
func Open(ctx context.Context, path string) (_ *DB, err error) {
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	if err := checkWritable(path); err != nil {
		return nil, err
	}
	existed := map[string]bool{path + "-wal": exists(path + "-wal"), path + "-shm": exists(path + "-shm")}
	defer func() {
		if err != nil {
			cleanUpAfterFailedOpen(path, existed)
		}
	}()
	// synchronous(FULL) syncs the WAL on every commit, so an acknowledged
	// create survives power loss too, not only a killed process.
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(1)")
	// A statement that writes many rows in a transaction (the analytics
	// writer's multi-row upserts, seeding) keeps a statement journal; in
	// memory it costs a page copy, in a temporary file a write system call
	// per page, which took a tenth of a busy server's CPU.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()

	// The writing connection keeps a larger page cache than SQLite's 2 MB:
	// the analytics writer updates rows of many links every second, and
	// with the default most of the pages it touched were read again from
	// the file (a system call each) by the next write.
	write, err := sql.Open("sqlite", dsn+"&_pragma="+url.QueryEscape(fmt.Sprintf("cache_size(%d)", -writeCacheKiB))+
		"&_pragma="+url.QueryEscape(fmt.Sprintf("wal_autocheckpoint(%d)", walCheckpointPages)))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	// The first connection switches the file to WAL mode before readers open.
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := 2 * runtime.GOMAXPROCS(0)
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxIdleTime(0)
	read.SetConnMaxLifetime(0)
	db := &DB{write: write, read: read}
	// SQLite opens a file it cannot write read-only and says nothing; a
	// write now finds that, and a full disk, before the server says it is
	// up. A new file has no settings table yet: Migrate writes then.
	if err := db.checkWrite(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: the database cannot be written: %w", path, err)
	}
	return db, nil
}

// writeCacheKiB is the writing connection's page cache, in KiB.
const writeCacheKiB = 32 << 10

// walCheckpointPages is how long the WAL grows, in pages, before a commit
// copies it back into the database (SQLite's default is 1,000). The pages
// the analytics writer changes every second (a link's total, this hour's
// counts) are copied back once per checkpoint however often they changed,
// so checkpointing less often copies less.
const walCheckpointPages = 10000

// checkWrite runs a write that needs no schema: an immediate transaction
// takes the write lock, which SQLite refuses on a read-only database.
func (db *DB) checkWrite(ctx context.Context) error {
	tx, err := db.write.BeginTx(ctx, nil) // _txlock=immediate
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS open_probe (x)`)
	return errors.Join(err, tx.Rollback())
}

// Close closes the database.
func (db *DB) Close() error {
	if db.get != nil {
		db.get.Close()
	}
	return errors.Join(db.read.Close(), db.write.Close())
}

// Writer returns the database's single writing connection, for other
// tables in the same file (analytics) to queue their writes behind the
// store's instead of failing with SQLITE_BUSY.
func (db *DB) Writer() *sql.DB { return db.write }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

func (db *DB) provider() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectSQLite3, db.write, sub)
}

// Migrate applies every pending migration.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := db.provider()
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return db.prepare(ctx)
}

// SchemaVersion returns the applied and the latest schema versions.
func (db *DB) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := db.provider()
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: migrations: %w", err)
	}
	current, latest, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return current, latest, nil
}

// prepare readies the statement on the redirect path once the schema exists.
func (db *DB) prepare(ctx context.Context) error {
	if db.get != nil {
		return nil
	}
	st, err := db.read.PrepareContext(ctx, getSQL)
	if err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	db.get = st
	return nil
}

// translate turns driver errors into the link package's errors.
func translate(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w (%v)", link.ErrCodeTaken, err)
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
			return fmt.Errorf("%w (%v)", link.ErrUnavailable, err)
		}
		if se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_IOERR {
			return fmt.Errorf("%w (%v)", link.ErrUnavailable, err)
		}
	}
	return err
}

// Pools reports the writer's and the readers' connection pools, for
// metrics.
func (db *DB) Pools() []store.Pool {
	pool := func(name string, s sql.DBStats) store.Pool {
		return store.Pool{
			Name: name, Up: true, InUse: s.InUse, Idle: s.Idle, Max: s.MaxOpenConnections,
			Waits: s.WaitCount, WaitTime: s.WaitDuration,
		}
	}
	return []store.Pool{pool("write", db.write.Stats()), pool("read", db.read.Stats())}
}
