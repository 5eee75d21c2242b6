package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
)

// OpenTest opens the database opts names, or a new one on the test server
// (pgtest.Database) when opts.URL is empty, migrates it, and closes it when
// the test ends. A zero opts.MaxConns means 8: the test server's
// connections are shared by every test. It is exported for postgres_test.
func OpenTest(t *testing.T, opts Options) *DB {
	t.Helper()
	if opts.URL == "" {
		opts.URL = pgtest.Database(t)
	}
	if opts.MaxConns == 0 {
		opts.MaxConns = 8
	}
	db, err := Open(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestTranslate(t *testing.T) {
	tests := []struct {
		err         error
		want        error // nil: passed through
		unreachable bool
	}{
		{&pgconn.PgError{Code: "23505"}, link.ErrCodeTaken, false},
		{&pgconn.PgError{Code: "57P01"}, link.ErrUnavailable, true},  // admin shutdown
		{&pgconn.PgError{Code: "57P03"}, link.ErrUnavailable, true},  // cannot connect now
		{&pgconn.PgError{Code: "08006"}, link.ErrUnavailable, true},  // connection failure
		{&pgconn.PgError{Code: "53300"}, link.ErrUnavailable, true},  // too many connections
		{&pgconn.PgError{Code: "57014"}, link.ErrUnavailable, true},  // statement timeout
		{&pgconn.PgError{Code: "25006"}, link.ErrUnavailable, false}, // read-only transaction
		{&pgconn.PgError{Code: "40001"}, link.ErrUnavailable, false}, // recovery conflict
		{&pgconn.PgError{Code: "53100"}, link.ErrUnavailable, false}, // disk full
		{&pgconn.PgError{Code: "42P01"}, nil, false},                 // undefined table: a bug, not an outage
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), link.ErrUnavailable, true},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, link.ErrUnavailable, true},
		{fmt.Errorf("acquire: %w", context.DeadlineExceeded), link.ErrUnavailable, false}, // a busy pool
		{errors.New("cannot scan"), nil, false},
	}
	for _, tt := range tests {
		got := translate(tt.err)
		if tt.want == nil {
			var le *link.Error
			if errors.As(got, &le) {
				t.Errorf("translate(%v) = %v, want it passed through", tt.err, got)
			}
		} else if !errors.Is(got, tt.want) {
			t.Errorf("translate(%v) = %v, want %v", tt.err, got, tt.want)
		}
		if !strings.Contains(got.Error(), tt.err.Error()) {
			t.Errorf("translate(%v) = %q lost the cause", tt.err, got)
		}
		if u := unreachable(tt.err); u != tt.unreachable {
			t.Errorf("unreachable(%v) = %t, want %t", tt.err, u, tt.unreachable)
		}
	}
}

// TestTerminatedSession ends the store's session from another one, as an
// administrator or a failover would, and checks the failure is reported as
// ErrUnavailable and that the store recovers by itself.
func TestTerminatedSession(t *testing.T) {
	dsn := pgtest.Database(t)
	db := OpenTest(t, Options{URL: dsn, MaxConns: 1})
	conn, err := db.primary.pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	release := sync.OnceFunc(conn.Release)
	t.Cleanup(release) // before Close, which waits for it
	var pid int
	if err := conn.QueryRow(t.Context(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var ended bool
	// With a timeout, pg_terminate_backend waits until the session has gone.
	if err := admin.QueryRow(t.Context(), `SELECT pg_terminate_backend($1, 5000)`, pid).Scan(&ended); err != nil || !ended {
		t.Fatalf("pg_terminate_backend = %t, %v", ended, err)
	}
	_, err = conn.Exec(t.Context(), `SELECT 1`)
	release()
	if err == nil {
		t.Fatal("a terminated session still answered")
	}
	if got := translate(err); !errors.Is(got, link.ErrUnavailable) {
		t.Fatalf("error on a terminated session = %v, want ErrUnavailable", got)
	}
	if _, err := db.Get(t.Context(), "anything"); !errors.Is(err, link.ErrNotFound) {
		t.Fatalf("Get after the session ended = %v, want ErrNotFound from a new session", err)
	}
}

// TestPoolExhausted checks that a request that cannot get a connection gives
// up after the timeout with ErrUnavailable, and that the pool recovers.
func TestPoolExhausted(t *testing.T) {
	db := OpenTest(t, Options{MaxConns: 1, Timeout: 300 * time.Millisecond})
	conn, err := db.primary.pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	release := sync.OnceFunc(conn.Release)
	t.Cleanup(release) // before Close, which waits for it
	start := time.Now()
	_, err = db.Get(t.Context(), "anything")
	if !errors.Is(err, link.ErrUnavailable) {
		t.Fatalf("Get with the pool exhausted = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Get with the pool exhausted took %v with a 300ms timeout", d)
	}
	if !db.primary.healthy() {
		t.Fatal("a busy pool marked the server down")
	}
	release()
	if _, err := db.Get(t.Context(), "anything"); !errors.Is(err, link.ErrNotFound) {
		t.Fatalf("Get after the pool freed up = %v, want ErrNotFound", err)
	}
}

// TestPlans checks that nothing on the redirect or listing paths scans the
// table: each query is a probe or a range of an index.
func TestPlans(t *testing.T) {
	db := OpenTest(t, Options{MaxConns: 2})
	ctx := t.Context()
	created := time.Now().UTC().Truncate(time.Microsecond)
	batch := make([]link.Link, 20_000)
	for i := range batch {
		batch[i] = link.Link{Code: link.Code(fmt.Sprintf("p%06d", i)), URL: "https://example.com/", CreatedAt: created.Add(time.Duration(i) * time.Millisecond), Owner: int64(i % 50), UserID: int64(i % 40)}
	}
	if err := db.InsertBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if _, err := db.primary.pool.Exec(ctx, `ANALYZE links`); err != nil {
		t.Fatal(err)
	}
	after := &link.Cursor{CreatedAt: created.Add(10 * time.Second), Code: "p010000"}
	owned, ownedArgs := listSQL(link.ListQuery{Owner: 7, After: after, Limit: 51})
	all, allArgs := listSQL(link.ListQuery{After: after, Limit: 51})
	byUser, byUserArgs := listSQL(link.ListQuery{UserID: 7, After: after, Limit: 51})
	tests := []struct {
		name  string
		query string
		args  []any
		index string
	}{
		{"get", getSQL, []any{"p000123"}, "links_pkey"},
		{"list by owner", owned, ownedArgs, "links_owner_newest"},
		{"list all", all, allArgs, "links_newest"},
		{"list by user", byUser, byUserArgs, "links_user_newest"},
	}
	for _, tt := range tests {
		// A generic plan is what a prepared statement ends up with: it must
		// use the index without knowing the values.
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			conn, err := db.primary.pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `SET plan_cache_mode = `+mode); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `PREPARE q AS `+tt.query); err != nil {
				t.Fatal(err)
			}
			placeholders := make([]string, len(tt.args))
			for i := range placeholders {
				placeholders[i] = fmt.Sprintf("$%d", i+1)
			}
			// The simple protocol writes the values into the text: EXPLAIN
			// itself takes no parameters.
			args := append([]any{pgx.QueryExecModeSimpleProtocol}, tt.args...)
			rows, err := conn.Query(ctx, `EXPLAIN EXECUTE q(`+strings.Join(placeholders, ", ")+`)`, args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var line string
				rows.Scan(&line)
				plan = append(plan, line)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			conn.Exec(ctx, `DEALLOCATE q`)
			conn.Exec(ctx, `RESET plan_cache_mode`)
			conn.Release()
			text := strings.Join(plan, "\n")
			if strings.Contains(text, "Seq Scan") || strings.Contains(text, "Sort") || !strings.Contains(text, "Index Scan using "+tt.index) {
				t.Errorf("%s (%s): plan does not walk %s alone:\n%s", tt.name, mode, tt.index, text)
			}
		}
	}
}
