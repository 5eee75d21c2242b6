package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store/postgres"
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
	return openStore(ctx, cfg, slog.New(slog.DiscardHandler))
}

// openStore is OpenStore for the server, which logs when a PostgreSQL
// server goes down or comes back.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (Engine, error) {
	switch {
	case strings.HasPrefix(cfg.DatabaseURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(cfg.DatabaseURL, "sqlite:"), "//")
		return sqlite.Open(ctx, path)
	case strings.HasPrefix(cfg.DatabaseURL, "postgres://"), strings.HasPrefix(cfg.DatabaseURL, "postgresql://"):
		db, err := postgres.Open(ctx, postgres.Options{
			URL:         cfg.DatabaseURL,
			ReplicaURLs: cfg.DatabaseReplicaURLs,
			MaxConns:    cfg.DatabaseMaxConns,
			Timeout:     cfg.DatabaseTimeout,
			Log:         log,
		})
		if err != nil {
			return nil, err
		}
		return db, nil
	default:
		return nil, fmt.Errorf("database-url %s: unsupported engine", config.Mask(cfg.DatabaseURL))
	}
}

// isEmbedded reports whether the engine lives in this process, so that the
// service may migrate it by itself.
func isEmbedded(cfg config.Config) bool { return strings.HasPrefix(cfg.DatabaseURL, "sqlite:") }

// PrepareSchema migrates an embedded database, or an external one when
// asked to, and otherwise refuses to run on a schema that is behind.
func PrepareSchema(ctx context.Context, cfg config.Config, db Engine) error {
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

// storeChecks reports storage on /readyz. An instance is ready while it can
// serve redirects. With replicas any one server will do, since a primary
// that is down stops creates but not redirects: each server is reported on
// its own, not critically, and the critical check passes while any of them
// answers. Without replicas the primary is critical.
func storeChecks(db Engine) []httpapi.Check {
	pg, ok := db.(*postgres.DB)
	if !ok || !pg.HasReplicas() {
		return []httpapi.Check{{Name: "database", Critical: true, Run: db.Ping}}
	}
	checks := []httpapi.Check{{Name: "database", Critical: true, Run: pg.ReadsAvailable}}
	for _, p := range pg.Probes() {
		checks = append(checks, httpapi.Check{Name: "database-" + p.Name, Run: p.Ping})
	}
	return checks
}
