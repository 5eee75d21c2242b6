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
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/shortcode"
)

// Engine is what every storage engine provides.
type Engine interface {
	link.Store
	link.Lister
	link.BatchStore
	apikey.Store
	shortcode.Counter

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
