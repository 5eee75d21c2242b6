package postgres

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
)

// TestReserveTakesXID shows why reserveSQL asks for a transaction id:
// nextval alone leaves most transactions without one, and such a commit
// does not wait for a synchronous standby.
func TestReserveTakesXID(t *testing.T) {
	db := OpenTest(t, Options{URL: pgtest.CreateDatabase(t, servicetest.Postgres(t))})
	conn, err := db.primary.pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	hasXID := func(query string) bool {
		t.Helper()
		var assigned bool
		err := pgx.BeginFunc(t.Context(), conn, func(tx pgx.Tx) error {
			rows, err := tx.Query(t.Context(), query, 1000)
			if err != nil {
				return err
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			return tx.QueryRow(t.Context(), `SELECT pg_current_xact_id_if_assigned() IS NOT NULL`).Scan(&assigned)
		})
		if err != nil {
			t.Fatal(err)
		}
		return assigned
	}
	without := 0
	for range 40 {
		if !hasXID(`SELECT reserve_link_ids($1)`) {
			without++
		}
		if !hasXID(reserveSQL) {
			t.Fatal("a reservation's transaction has no transaction id: its commit would not wait for the synchronous standby")
		}
	}
	if without == 0 {
		t.Fatal("every bare nextval took a transaction id; the reason for reserveSQL is gone (check the PostgreSQL version)")
	}
	t.Logf("bare reservations without a transaction id: %d of 40", without)
}

// TestFollowPrimary opens a multi-host URL whose first host accepts
// connections but never answers and whose second is a standby: the store
// still reaches the primary, third, within one timeout, and then goes there
// first.
func TestFollowPrimary(t *testing.T) {
	primary := pgtest.StartPrimary(t)
	dsn := primary.Database(t)
	replica := primary.StartReplica(t)
	hang, err := net.Listen("tcp", "127.0.0.1:0") // never accepts: the handshake completes, nothing answers
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	name := pgtest.DBName(dsn)
	url := fmt.Sprintf("postgres://postgres@%s,127.0.0.1:%d,127.0.0.1:%d/%s?sslmode=disable&target_session_attrs=read-write",
		hang.Addr(), replica.Port(), primary.Port(), name)
	const timeout = 1500 * time.Millisecond
	db := OpenTest(t, Options{URL: url, Timeout: timeout})
	start := time.Now()
	if _, err := db.Insert(t.Context(), link.Link{Code: "multi", URL: "https://example.com/", CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatalf("Insert through a multi-host URL: %v", err)
	}
	t.Logf("insert took %v", time.Since(start))

	cfg := db.primary.pool.Config().ConnConfig.Copy()
	if cfg.ConnectTimeout != timeout/3 {
		t.Errorf("per-host connect timeout = %v, want %v", cfg.ConnectTimeout, timeout/3)
	}
	db.primary.pool.Config().BeforeConnect(t.Context(), cfg)
	if cfg.Port != uint16(primary.Port()) || len(cfg.Fallbacks) != 2 {
		t.Errorf("after connecting, hosts are tried from port %d (%d fallbacks), want the primary's %d first", cfg.Port, len(cfg.Fallbacks), primary.Port())
	}
	// New connections go straight to the primary now.
	db.primary.pool.Reset()
	start = time.Now()
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= timeout/3 {
		t.Errorf("a new connection took %v: it tried the hanging host first", d)
	}
}

// TestDemotedPrimaryDropped points the primary's URL at a standby, as a
// pool holds after its primary was demoted: the first refused write drops
// every pooled connection instead of leaving them to fail one by one.
func TestDemotedPrimaryDropped(t *testing.T) {
	primary := pgtest.StartPrimary(t)
	dsn := primary.Database(t)
	if err := OpenTest(t, Options{URL: dsn}).Close(); err != nil { // migrates
		t.Fatal(err)
	}
	replica := primary.StartReplica(t)
	db, err := Open(t.Context(), Options{URL: replica.URL(pgtest.DBName(dsn))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if s := db.primary.pool.Stat(); s.TotalConns() == 0 {
		t.Fatal("Open left no connection in the pool; the test proves nothing")
	}
	_, err = db.Insert(t.Context(), link.Link{Code: "ro", URL: "https://example.com/", CreatedAt: time.Now().UTC()})
	var pgErr *pgconn.PgError
	if !errors.Is(err, link.ErrUnavailable) || !strings.Contains(err.Error(), "25006") && !errors.As(err, &pgErr) {
		t.Fatalf("Insert on a standby = %v, want ErrUnavailable for 25006", err)
	}
	servicetest.Eventually(t, 2*time.Second, "pool emptied", func() error {
		if n := db.primary.pool.Stat().TotalConns(); n != 0 {
			return fmt.Errorf("%d connections to the standby still pooled", n)
		}
		return nil
	})
}

func TestHostsOrder(t *testing.T) {
	cfg, err := pgconn.ParseConfig("postgres://u@10.0.0.1:5432,db2:5433,10.0.0.3:5434/x?sslmode=prefer")
	if err != nil {
		t.Fatal(err)
	}
	if n := distinctHosts(cfg); n != 3 {
		t.Fatalf("distinctHosts = %d, want 3 (sslmode=prefer lists each twice)", n)
	}
	h := &hosts{preferred: "10.0.0.2:5433", resolved: map[string][]string{"db2": {"10.0.0.2"}}}
	h.order(cfg)
	var got []string
	for _, f := range append([]*pgconn.FallbackConfig{{Host: cfg.Host, Port: cfg.Port}}, cfg.Fallbacks...) {
		got = append(got, fmt.Sprintf("%s:%d", f.Host, f.Port))
	}
	want := "db2:5433 db2:5433 10.0.0.1:5432 10.0.0.1:5432 10.0.0.3:5434 10.0.0.3:5434"
	if strings.Join(got, " ") != want {
		t.Fatalf("order = %v, want %s", got, want)
	}
}
