package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store/sqlite"
)

// Engine is what the service needs from a storage engine.
type Engine interface {
	link.Store
	link.Lister
	apikey.Store
	ReserveIDs(ctx context.Context, n uint64) (first uint64, err error)
	Setting(ctx context.Context, name, init string) (string, error)
	Ping(ctx context.Context) error
	Migrate(ctx context.Context) error
	SchemaVersion(ctx context.Context) (current, latest int64, err error)
	Close() error
}

// OpenStore opens the engine cfg.DatabaseURL names, without migrating.
func OpenStore(ctx context.Context, cfg config.Config) (Engine, error) {
	switch {
	case strings.HasPrefix(cfg.DatabaseURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(cfg.DatabaseURL, "sqlite:"), "//")
		return sqlite.Open(ctx, path)
	default:
		return nil, fmt.Errorf("database-url %s: unsupported engine", config.Mask(cfg.DatabaseURL))
	}
}

// isEmbedded reports whether the engine lives in this process, so that the
// service may migrate it by itself.
func isEmbedded(cfg config.Config) bool { return strings.HasPrefix(cfg.DatabaseURL, "sqlite:") }

// prepareSchema migrates an embedded database, or an external one when
// asked to, and otherwise refuses to run on a schema that is behind.
func prepareSchema(ctx context.Context, cfg config.Config, db Engine) error {
	if isEmbedded(cfg) || cfg.AutoMigrate {
		return db.Migrate(ctx)
	}
	cur, latest, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if cur < latest {
		return fmt.Errorf("the database schema is at version %d but this build needs %d: run 'shortlinks migrate' first (or start with --auto-migrate)", cur, latest)
	}
	return nil
}
