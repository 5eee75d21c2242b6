// Package store holds what the storage engines (store/sqlite,
// store/postgres) have in common beyond the domain's own interfaces: the
// Engine contract that app opens and store/storetest checks, and the values
// through which an engine reports on its health.
//
// It imports no engine, so that the engines can import it; app, which
// knows them all, picks one from the database URL.
package store

import (
	"context"
	"time"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/report"
	"github.com/shortlinks/shortlinks/internal/shortcode"
)

// Engine is what every storage engine provides.
type Engine interface {
	link.Store
	link.Lister
	link.BatchStore
	link.Editor
	link.Visitor
	link.DomainStore
	link.DomainLinks
	link.DomainEditor
	apikey.Store
	audit.Store
	report.Store
	shortcode.Counter

	// Existing returns, for each of codes that has ever been used on the
	// domain (0: the default one), the URL of its live link, or "" when
	// the link was deleted, as read on the primary: imports check with it
	// before they load.
	Existing(ctx context.Context, domain int64, codes []link.Code) (map[link.Code]string, error)

	// CountLinks counts the live links of an API key, or all of them for
	// key 0. It scans, so it serves occasional totals.
	CountLinks(ctx context.Context, owner int64) (int64, error)
	// CountClicks sums the clicks by people of all time, imported counts
	// included, of the live links of an API key, or of all of them for key
	// 0. It scans, as CountLinks does.
	CountClicks(ctx context.Context, owner int64) (int64, error)

	// Setting returns the value stored under name, first storing init
	// there if there is none, so that every instance agrees on it.
	Setting(ctx context.Context, name, init string) (string, error)

	// Ping checks that the engine answers.
	Ping(ctx context.Context) error
	// Migrate applies every pending migration.
	Migrate(ctx context.Context) error
	// SchemaVersion returns the applied and the latest schema versions.
	SchemaVersion(ctx context.Context) (current, latest int64, err error)
	// Close releases the engine's connections.
	Close() error
}

// Probe checks one server of an engine, for readiness reports.
type Probe struct {
	Name string // "primary", "replica-1", …
	Ping func(ctx context.Context) error
}

// Pool is what one connection pool of an engine reports, for metrics.
type Pool struct {
	Name     string // "primary", "replica-1", "write", "read"
	Up       bool   // its server answered when last tried
	InUse    int
	Idle     int
	Max      int
	Waits    int64         // connections asked for when none was idle
	WaitTime time.Duration // time spent waiting for them
}

// Backuper is an engine that copies its own database to a file, whole and
// consistent, while it serves. SQLite is one; PostgreSQL is backed up by
// its own tools (pgBackRest, CloudNativePG), which also give point-in-time
// recovery.
type Backuper interface {
	// Backup writes the copy to path, replacing any file there only once
	// the copy is complete.
	Backup(ctx context.Context, path string) (BackupInfo, error)
}

// BackupInfo describes a backup.
type BackupInfo struct {
	SchemaVersion int64 // the last migration applied
	Links         int64 // links not deleted
	Bytes         int64 // size of the file
}
