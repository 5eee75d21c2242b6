package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/exporter"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/importer"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/report"
	"github.com/shortlinks/shortlinks/internal/routes"
	"github.com/shortlinks/shortlinks/internal/shortcode"
	"github.com/shortlinks/shortlinks/internal/store"
	"github.com/shortlinks/shortlinks/internal/store/postgres"
	"github.com/shortlinks/shortlinks/internal/store/sqlite"
	"github.com/shortlinks/shortlinks/internal/telemetry"
)

// Storage is the database that a configuration names, open: what the
// server keeps its data in, and all that the commands working on the
// database directly (migrate, apikey, seed) open.
type Storage struct {
	store.Engine
	kind engine
	cfg  config.Config
}

// engine is a kind of storage engine.
type engine struct {
	system   string // as OpenTelemetry names it (db.system)
	embedded bool   // it lives in this process, so the service may migrate it by itself
	open     func(ctx context.Context, cfg config.Config, log *slog.Logger) (store.Engine, error)
	// restore puts a backup file in place as the database cfg names; nil
	// for an engine backed up by its own tools.
	restore func(ctx context.Context, cfg config.Config, file string, opts RestoreOptions) (store.BackupInfo, error)
}

// engineFor picks the engine that a database URL names.
func engineFor(url string) (engine, error) {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		return engine{system: "sqlite", embedded: true, open: openSQLite, restore: restoreSQLite}, nil
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return engine{system: "postgresql", open: openPostgres}, nil
	}
	return engine{}, fmt.Errorf("database-url %s: unsupported engine", config.Mask(url))
}

func openSQLite(ctx context.Context, cfg config.Config, _ *slog.Logger) (store.Engine, error) {
	return sqlite.Open(ctx, sqlitePath(cfg))
}

func restoreSQLite(ctx context.Context, cfg config.Config, file string, opts RestoreOptions) (store.BackupInfo, error) {
	return sqlite.Restore(ctx, file, sqlitePath(cfg), opts)
}

// RestoreOptions tune Restore: whether to replace a database that is
// there, and how far to move the id counter past the backup's.
type RestoreOptions = sqlite.RestoreOptions

func sqlitePath(cfg config.Config) string {
	return strings.TrimPrefix(strings.TrimPrefix(cfg.DatabaseURL, "sqlite:"), "//")
}

// ownTools says where to read about backing up an engine that is backed up
// by its own tools rather than by Shortlinks.
func ownTools(system string) error {
	return fmt.Errorf("%s is backed up and restored with its own tools (pgBackRest, or CloudNativePG's backups on Kubernetes), "+
		"which also recover to a point in time: see docs/deploy.md, section Backups", map[string]string{"postgresql": "PostgreSQL"}[system])
}

// Backup copies the database to path, whole and consistent, while servers
// keep using it, on engines that can (store.Backuper).
func (s *Storage) Backup(ctx context.Context, path string) (store.BackupInfo, error) {
	b, ok := s.Engine.(store.Backuper)
	if !ok {
		return store.BackupInfo{}, ownTools(s.kind.system)
	}
	return b.Backup(ctx, path)
}

// Restore puts the backup in file in place as the database that cfg
// names, refusing to replace one that exists unless opts.Force is set. It
// opens nothing else.
func Restore(ctx context.Context, cfg config.Config, file string, opts RestoreOptions) (store.BackupInfo, error) {
	kind, err := engineFor(cfg.DatabaseURL)
	if err != nil {
		return store.BackupInfo{}, err
	}
	if kind.restore == nil {
		return store.BackupInfo{}, ownTools(kind.system)
	}
	return kind.restore(ctx, cfg, file, opts)
}

func openPostgres(ctx context.Context, cfg config.Config, log *slog.Logger) (store.Engine, error) {
	return postgres.Open(ctx, postgres.Options{
		URL:         cfg.DatabaseURL,
		ReplicaURLs: cfg.DatabaseReplicaURLs,
		MaxConns:    cfg.DatabaseMaxConns,
		Timeout:     cfg.DatabaseTimeout,
		Log:         log,
	})
}

// OpenStorage opens the database that cfg names, without migrating it. log
// receives a line whenever a database server goes down or comes back; nil
// discards them.
func OpenStorage(ctx context.Context, cfg config.Config, log *slog.Logger) (*Storage, error) {
	kind, err := engineFor(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e, err := kind.open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	return &Storage{Engine: e, kind: kind, cfg: cfg}, nil
}

// Prepare readies the schema as the server does at start: it migrates an
// embedded database, or an external one when the configuration asks to
// (--auto-migrate), and otherwise refuses a schema that is behind.
func (s *Storage) Prepare(ctx context.Context) error {
	if s.kind.embedded || s.cfg.AutoMigrate {
		return s.Migrate(ctx)
	}
	cur, latest, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if cur < latest {
		return fmt.Errorf("the database schema is at version %d but this build needs %d: run 'shortlinks migrate' first (or start with --auto-migrate)", cur, latest)
	}
	return nil
}

// Keys is the API key service over this storage, recording keys made and
// revoked in its audit log.
func (s *Storage) Keys() *apikey.Service { return s.keys(nil) }

// keys is Keys with a log for entries the audit log could not store.
func (s *Storage) keys(log *slog.Logger) *apikey.Service {
	return apikey.NewServiceWith(s.Engine, apikey.Options{Audit: s.Audit(log), Log: log})
}

// Reports is the abuse report service over this storage, checking the
// codes reported with links and recording resolutions in the audit log.
func (s *Storage) Reports(links report.Links, log *slog.Logger) *report.Service {
	return report.New(s.Engine, links, report.Options{Audit: s.Audit(log), Log: log})
}

// Audit is the audit log kept in this storage; log receives entries that
// could not be stored.
func (s *Storage) Audit(log *slog.Logger) *audit.Log { return audit.New(s.Engine, nil, log) }

// CodeKey returns the permutation that turns ids into codes, for the server
// and the bulk loader alike. A configured key must match the one the
// database was first used with, since changing it would reshuffle which
// codes future ids get; without one, the key the database keeps is used,
// made on first use.
func (s *Storage) CodeKey(ctx context.Context) (*shortcode.Permutation, error) {
	var key []byte
	if s.cfg.CodeKey != "" {
		k, err := shortcode.ParseKey(s.cfg.CodeKey)
		if err != nil {
			return nil, err
		}
		key = k
	} else {
		fresh := make([]byte, shortcode.KeyLength)
		rand.Read(fresh)
		stored, err := s.Setting(ctx, "code_key", hex.EncodeToString(fresh))
		if err != nil {
			return nil, fmt.Errorf("code key: %w", err)
		}
		if key, err = shortcode.ParseKey(stored); err != nil {
			return nil, fmt.Errorf("stored code key: %w", err)
		}
	}
	fp := shortcode.Fingerprint(key)
	stored, err := s.Setting(ctx, "code_key_fingerprint", fp)
	if err != nil {
		return nil, fmt.Errorf("code key: %w", err)
	}
	if stored != fp {
		return nil, errors.New("code-key differs from the key this database was first used with; give that key again")
	}
	return shortcode.NewPermutation(key)
}

// Loader returns a bulk loader into this storage whose codes come from the
// same counter and key as the server's, so that loaded links cannot be told
// from created ones.
func (s *Storage) Loader(ctx context.Context) (*link.Loader, error) {
	perm, err := s.CodeKey(ctx)
	if err != nil {
		return nil, err
	}
	return link.NewLoader(s.Engine, shortcode.NewGenerator(perm, s.Engine, 0)), nil
}

// Importer returns an importer into this storage, holding records to the
// rules the server holds creates to; codes it generates come from the same
// counter and key as the server's.
func (s *Storage) Importer(ctx context.Context, opts importer.Options) (*importer.Importer, error) {
	perm, err := s.CodeKey(ctx)
	if err != nil {
		return nil, err
	}
	opts.URLRules = LinkRules(s.cfg)
	opts.Reserved = routes.ReservedPaths()
	return importer.New(s.Engine, shortcode.NewGenerator(perm, s.Engine, 0), opts), nil
}

// ExportHosts names the short domains of this storage's links, for
// export.
func (s *Storage) ExportHosts(ctx context.Context) (exporter.Hosts, error) {
	doms, err := s.Domains(ctx, nil)
	if err != nil {
		return nil, err
	}
	return doms.Host, nil
}

// ExportPages pages through every live link of this storage, for export.
func (s *Storage) ExportPages() exporter.Pages {
	svc := link.NewService(s.Engine, s.Engine, nil, link.Options{})
	return func(ctx context.Context, after *link.Cursor) (link.Page, error) {
		return svc.Search(ctx, link.Principal{Admin: true}, exporter.Query(after))
	}
}

// servers is an engine of several servers that serve reads (PostgreSQL with
// replicas), each checked on its own.
type servers interface {
	Probes() []store.Probe                    // each server, the primary first
	ReadsAvailable(ctx context.Context) error // some server that serves reads answers
}

// writeProber is an engine that can check that a write would commit.
type writeProber interface {
	WriteProbe(ctx context.Context) error
}

// checks reports storage on /readyz. An instance is ready while it can
// serve redirects. With replicas any one server will do, since a primary
// that is down stops creates but not redirects: each server is reported on
// its own, not critically, and the critical check passes while any of them
// answers. With one server, it is critical.
//
// An engine that can tell whether writes succeed (writeProber) adds a
// check "database-write", never critical: an instance whose disk is full
// still serves redirects, so it must stay in the load balancer; the check
// says that creates will fail.
func (s *Storage) checks() []httpapi.Check {
	var checks []httpapi.Check
	if wp, ok := s.Engine.(writeProber); ok {
		checks = append(checks, httpapi.Check{Name: "database-write", Run: wp.WriteProbe})
	}
	sv, ok := s.Engine.(servers)
	if !ok || len(sv.Probes()) < 2 {
		return append(checks, httpapi.Check{Name: "database", Critical: true, Run: s.Ping})
	}
	checks = append(checks, httpapi.Check{Name: "database", Critical: true, Run: sv.ReadsAvailable})
	for _, p := range sv.Probes() {
		checks = append(checks, httpapi.Check{Name: "database-" + p.Name, Run: p.Ping})
	}
	return checks
}

// pooled is an engine that reports its connection pools.
type pooled interface{ Pools() []store.Pool }

// pools reports the engine's connection pools for metrics, if it has any.
func (s *Storage) pools() []telemetry.DBPool {
	p, ok := s.Engine.(pooled)
	if !ok {
		return nil
	}
	var out []telemetry.DBPool
	for _, pool := range p.Pools() {
		out = append(out, telemetry.DBPool(pool))
	}
	return out
}
