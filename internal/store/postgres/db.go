// Package postgres stores links in PostgreSQL through a pgx connection pool,
// for deployments with many instances. Writes go to the primary; redirect
// lookups and listings go to read replicas when there are any, and fall back
// to the primary when a replica lacks a row or cannot answer.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ store.Engine = (*DB)(nil)

// Defaults for Options.
const (
	DefaultTimeout       = 3 * time.Second
	DefaultProbeInterval = time.Second
)

// Options configure a DB.
type Options struct {
	// URL names the primary, as postgres://user:pass@host:port/db?params.
	URL string
	// ReplicaURLs name read replicas of the primary; none means the primary
	// serves reads too.
	ReplicaURLs []string
	// MaxConns is the largest pool kept to each server; zero means pgx's
	// default.
	MaxConns int
	// Timeout bounds each query, connection attempt and wait for a pooled
	// connection, so that an unreachable server fails a request quickly
	// instead of holding it. Zero means DefaultTimeout.
	Timeout time.Duration
	// ProbeInterval is how often a server marked down is tried again in the
	// background. Zero means DefaultProbeInterval.
	ProbeInterval time.Duration
	// Log receives a line whenever a server goes down or comes back; nil
	// discards them.
	Log *slog.Logger
}

// DB is a PostgreSQL database holding links, the id sequence, settings and
// API keys, reached through one pool per server.
type DB struct {
	primary  *server
	replicas []*server
	servers  []*server     // the primary, then the replicas
	next     atomic.Uint64 // round-robin position among replicas
	timeout  time.Duration
	migrate  *pgx.ConnConfig // the primary's, without statement_timeout
	log      *slog.Logger

	stop context.CancelFunc
	done sync.WaitGroup
}

// Open connects to the primary and the replicas that opts names. It fails
// when the primary cannot be reached within the timeout; replicas that
// cannot be reached are marked down and tried again in the background. It
// does not migrate.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = DefaultProbeInterval
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	db := &DB{timeout: opts.Timeout, log: opts.Log}
	primary, err := db.newServer("primary", opts.URL, opts)
	if err != nil {
		return nil, err
	}
	db.primary = primary
	db.servers = append(db.servers, primary)
	db.migrate = primary.pool.Config().ConnConfig.Copy()
	delete(db.migrate.RuntimeParams, "statement_timeout") // a migration may rightly take long
	for i, u := range opts.ReplicaURLs {
		r, err := db.newServer("replica-"+strconv.Itoa(i+1), u, opts)
		if err != nil {
			db.closePools()
			return nil, err
		}
		db.replicas = append(db.replicas, r)
		db.servers = append(db.servers, r)
	}

	// Check every server at once; only the primary must answer.
	errs := make([]error, len(db.servers))
	var wg sync.WaitGroup
	for i, s := range db.servers {
		wg.Go(func() { errs[i] = db.check(ctx, s) })
	}
	wg.Wait()
	if errs[0] != nil {
		db.closePools()
		return nil, fmt.Errorf("postgres: cannot reach the primary: %w", errs[0])
	}

	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	db.stop = stop
	db.done.Go(func() { db.probe(pctx, opts.ProbeInterval) })
	return db, nil
}

// newServer makes the pool for one server without connecting.
func (db *DB) newServer(name, url string, opts Options) (*server, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password and all.
		return nil, fmt.Errorf("postgres: %s: database URL is not valid", name)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = int32(min(opts.MaxConns, 1<<30))
	}
	cc := cfg.ConnConfig
	cc.ConnectTimeout = opts.Timeout
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "shortlinks"
	}
	// The server stops a statement when the client has given up on it, so
	// abandoned queries cannot pile up on an overloaded server.
	if _, ok := cc.RuntimeParams["statement_timeout"]; !ok {
		cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.Timeout.Milliseconds(), 10)
	}
	follows := followPrimary(cfg, opts.Timeout)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", name, err)
	}
	return &server{name: name, pool: pool, log: db.log, follows: follows}, nil
}

func (db *DB) closePools() {
	for _, s := range db.servers {
		s.pool.Close()
	}
}

// Close stops the background probes and closes every pool.
func (db *DB) Close() error {
	db.stop()
	db.done.Wait()
	db.closePools()
	return nil
}

// Ping checks that the primary answers.
func (db *DB) Ping(ctx context.Context) error { return db.ping(ctx, db.primary) }

// ping checks that s answers within the timeout and records the outcome.
// A failure wraps link.ErrUnavailable.
func (db *DB) ping(ctx context.Context, s *server) error {
	if err := db.check(ctx, s); err != nil {
		return fmt.Errorf("postgres: ping %s: %w", s.name, translate(err))
	}
	return nil
}

// check is ping with the driver's error.
func (db *DB) check(ctx context.Context, s *server) error {
	return db.run(ctx, s, func(ctx context.Context, p *pgxpool.Pool) error { return p.Ping(ctx) })
}

// ReadsAvailable checks that some server that serves reads answers: a
// replica, or else the primary. Redirects keep working while it passes.
func (db *DB) ReadsAvailable(ctx context.Context) error {
	errs := make([]error, len(db.servers))
	var wg sync.WaitGroup
	for i, s := range db.servers {
		wg.Go(func() { errs[i] = db.ping(ctx, s) })
	}
	wg.Wait()
	for _, err := range errs {
		if err == nil {
			return nil
		}
	}
	return errors.Join(errs...)
}

// Probes returns a check for each server, the primary first. A check that
// succeeds also marks its server up, and one that fails marks it down.
func (db *DB) Probes() []store.Probe {
	out := make([]store.Probe, len(db.servers))
	for i, s := range db.servers {
		out[i] = store.Probe{Name: s.name, Ping: func(ctx context.Context) error { return db.ping(ctx, s) }}
	}
	return out
}

// provider returns a goose provider over a database/sql handle to the
// primary, which the caller closes. Its session locker holds a PostgreSQL
// advisory lock while migrating, so instances started together with
// --auto-migrate apply each migration once, one after the other.
func (db *DB) provider() (*goose.Provider, *sql.DB, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, nil, err
	}
	// Probe for the lock every second for up to ten minutes: long enough
	// for another instance to finish any migration worth waiting for.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 600))
	if err != nil {
		return nil, nil, err
	}
	sqlDB := stdlib.OpenDB(*db.migrate)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, sub, goose.WithSessionLocker(locker))
	if err != nil {
		sqlDB.Close()
		return nil, nil, err
	}
	return p, sqlDB, nil
}

// Migrate applies every pending migration to the primary. Concurrent calls,
// from this process or others, wait for each other.
func (db *DB) Migrate(ctx context.Context) error {
	p, sqlDB, err := db.provider()
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	defer sqlDB.Close()
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", translate(err))
	}
	return nil
}

// SchemaVersion returns the applied and the latest schema versions.
func (db *DB) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, sqlDB, err := db.provider()
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: migrations: %w", err)
	}
	defer sqlDB.Close()
	current, latest, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: schema version: %w", translate(err))
	}
	return current, latest, nil
}

// run calls fn with s's pool within the timeout and records whether s
// answered.
func (db *DB) run(ctx context.Context, s *server, fn func(context.Context, *pgxpool.Pool) error) error {
	tctx, cancel := context.WithTimeout(ctx, db.timeout)
	defer cancel()
	err := fn(tctx, s.pool)
	switch {
	case err == nil:
		s.up()
	case ctx.Err() != nil:
		// The caller gave up; that says nothing about the server.
	case unreachable(err):
		s.down(err)
	default:
		// An error answer still shows that the server is there.
		s.up()
		if s == db.primary && demoted(err) {
			s.drop(err)
		}
	}
	return err
}

// translate turns driver errors into the link package's errors: a unique
// violation into ErrCodeTaken, and anything that means the server cannot
// take the request now into ErrUnavailable, keeping the cause in the text
// for the logs.
func translate(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%w (%v)", link.ErrCodeTaken, err)
	}
	if unavailable(err) {
		return fmt.Errorf("%w (%v)", link.ErrUnavailable, err)
	}
	return err
}

// unavailable reports whether err is a failure to reach the database or a
// refusal that may pass: the request may succeed if tried again later.
func unavailable(err error) bool {
	// A bare deadline is a wait for a pooled connection that ran out: the
	// server is busy rather than gone.
	if unreachable(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "25006", // read_only_sql_transaction: the server is a standby now
		"40001", // serialization_failure, also a standby's recovery conflict
		"40P01", // deadlock_detected
		"55P03": // lock_not_available
		return true
	}
	switch pgErr.Code[:2] {
	case "53", // insufficient resources: too many connections, disk full, …
		"57", // operator intervention: shutdown, statement timeout, …
		"58": // system error: I/O
		return true
	}
	return false
}

// unreachable reports whether err shows that a server cannot be used now:
// it cannot be connected to, dropped the connection, is shutting down or
// starting, or did not answer in time. Such a server is marked down. Waiting
// too long for a pooled connection is not among these: a busy pool says
// nothing about the server.
func unreachable(err error) bool {
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", // admin_shutdown
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now: starting up or in recovery
			"57014", // query_canceled: the statement timeout passed
			"53300": // too_many_connections
			return true
		}
		return pgErr.Code[:2] == "08" // connection exception
	}
	if pgconn.Timeout(err) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// Not from the connection, which pgconn would have said: from
		// waiting for the pool, or from the caller.
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// cut reports whether an unreachable server's connections are gone, rather
// than slow: then the pool's other connections are as dead as the one that
// failed.
func cut(err error) bool {
	return !pgconn.Timeout(err) && !errors.Is(err, context.DeadlineExceeded)
}
