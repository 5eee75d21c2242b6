package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/postgres"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
)

// testLog sends the store's health log lines to the test's log.
func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func mustInsert(t *testing.T, db *postgres.DB, code, url string) {
	t.Helper()
	if _, err := db.Insert(t.Context(), link.Link{Code: link.Code(code), URL: url, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}); err != nil {
		t.Fatalf("Insert(%s): %v", code, err)
	}
}

func mustResolve(t *testing.T, db *postgres.DB, code, url string) {
	t.Helper()
	l, err := db.Get(t.Context(), link.Code(code))
	if err != nil {
		t.Fatalf("Get(%s): %v", code, err)
	}
	if l.URL != url {
		t.Fatalf("Get(%s).URL = %q, want %q", code, l.URL, url)
	}
}

func probe(db *postgres.DB, name string) func(context.Context) error {
	for _, p := range db.Probes() {
		if p.Name == name {
			return p.Ping
		}
	}
	panic("no probe " + name)
}

// setReplay pauses or resumes WAL replay on a replica and waits until it
// has taken effect, so that the test can tell reads from the replica apart
// from reads from the primary.
func setReplay(t *testing.T, replica *pgtest.Cluster, paused bool) {
	t.Helper()
	conn := replica.Conn(t, "postgres")
	fn, want := "pg_wal_replay_resume", "not paused"
	if paused {
		fn, want = "pg_wal_replay_pause", "paused"
	}
	if _, err := conn.Exec(t.Context(), `SELECT `+fn+`()`); err != nil {
		t.Fatal(err)
	}
	for range 500 {
		var state string
		if err := conn.QueryRow(t.Context(), `SELECT pg_get_wal_replay_pause_state()`).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("replay did not become %s", want)
}

// TestReplicas runs the store against a real primary and a streaming replica
// made from it, and takes each of them away in turn.
func TestReplicas(t *testing.T) {
	primary := pgtest.StartPrimary(t)
	dsn := primary.Database(t)
	replica := primary.StartReplica(t)
	db := postgres.OpenTest(t, postgres.Options{
		URL:           dsn,
		ReplicaURLs:   []string{replica.URL(pgtest.DBName(dsn))},
		Timeout:       time.Second,
		ProbeInterval: 100 * time.Millisecond,
		Log:           testLog(t),
	})
	mustInsert(t, db, "kept", "https://example.com/kept")
	primary.WaitReplayed(t, replica)

	t.Run("ReadsGoToReplica", func(t *testing.T) {
		mustInsert(t, db, "stale", "https://example.com/stale")
		primary.WaitReplayed(t, replica)
		setReplay(t, replica, true)
		defer setReplay(t, replica, false)
		if err := db.Delete(t.Context(), "stale"); err != nil {
			t.Fatal(err)
		}
		// The replica has not replayed the delete: seeing the link proves
		// the read went there.
		mustResolve(t, db, "stale", "https://example.com/stale")
		ls, err := db.List(t.Context(), link.ListQuery{Limit: 10})
		if err != nil || len(ls) != 2 {
			t.Fatalf("List from the paused replica = %v, %v; want kept and stale", ls, err)
		}
		// A link the replica lacks is found on the primary at once.
		mustInsert(t, db, "fresh", "https://example.com/fresh")
		mustResolve(t, db, "fresh", "https://example.com/fresh")
		if _, err := db.Get(t.Context(), "never"); !errors.Is(err, link.ErrNotFound) {
			t.Fatalf("Get(never) = %v, want ErrNotFound", err)
		}
	})
	primary.WaitReplayed(t, replica)
	if _, err := db.Get(t.Context(), "stale"); !errors.Is(err, link.ErrNotFound) {
		t.Fatalf("Get(stale) after replay = %v, want ErrNotFound", err)
	}

	t.Run("ReplicaLost", func(t *testing.T) {
		replica.Stop(t)
		mustResolve(t, db, "kept", "https://example.com/kept")
		mustInsert(t, db, "while-replica-down", "https://example.com/wrd")
		mustResolve(t, db, "while-replica-down", "https://example.com/wrd")
		if err := probe(db, "replica-1")(t.Context()); !errors.Is(err, link.ErrUnavailable) {
			t.Fatalf("replica probe with the replica stopped = %v, want ErrUnavailable", err)
		}
		if err := db.ReadsAvailable(t.Context()); err != nil {
			t.Fatalf("ReadsAvailable with the primary up = %v", err)
		}

		replica.Start(t)
		// No request touches the replica while it is marked down: only the
		// background probe can bring it back. Reads reach it again when a
		// delete it has not replayed shows through.
		primary.WaitReplayed(t, replica)
		setReplay(t, replica, true)
		defer setReplay(t, replica, false)
		if err := db.Delete(t.Context(), "while-replica-down"); err != nil {
			t.Fatal(err)
		}
		servicetest.Eventually(t, 10*time.Second, "reads return to the replica", func() error {
			_, err := db.Get(t.Context(), "while-replica-down")
			return err
		})
	})
	primary.WaitReplayed(t, replica)

	t.Run("PrimaryLost", func(t *testing.T) {
		mustInsert(t, db, "replicated", "https://example.com/replicated")
		primary.WaitReplayed(t, replica)
		primary.Stop(t)

		mustResolve(t, db, "kept", "https://example.com/kept")
		mustResolve(t, db, "replicated", "https://example.com/replicated")
		start := time.Now()
		if _, err := db.Get(t.Context(), "never"); !errors.Is(err, link.ErrNotFound) {
			t.Fatalf("Get(never) with the primary down = %v, want ErrNotFound from the replica", err)
		}
		_, err := db.Insert(t.Context(), link.Link{Code: "refused", URL: "https://example.com/", CreatedAt: time.Now()})
		if !errors.Is(err, link.ErrUnavailable) {
			t.Fatalf("Insert with the primary down = %v, want ErrUnavailable", err)
		}
		if _, err := db.ReserveIDs(t.Context(), 1000); !errors.Is(err, link.ErrUnavailable) {
			t.Fatalf("ReserveIDs with the primary down = %v, want ErrUnavailable", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("answering with the primary down took %v", d)
		}
		if err := db.ReadsAvailable(t.Context()); err != nil {
			t.Fatalf("ReadsAvailable with a replica up = %v", err)
		}
		if err := db.Ping(t.Context()); !errors.Is(err, link.ErrUnavailable) {
			t.Fatalf("Ping with the primary down = %v, want ErrUnavailable", err)
		}

		primary.Start(t)
		servicetest.Eventually(t, 15*time.Second, "creates work again", func() error {
			_, err := db.Insert(t.Context(), link.Link{Code: "after", URL: "https://example.com/after", CreatedAt: time.Now()})
			return err
		})
		// The replica streams from the restarted primary again.
		primary.WaitReplayed(t, replica)
		mustResolve(t, db, "after", "https://example.com/after")
	})

	t.Run("AllLost", func(t *testing.T) {
		replica.Stop(t)
		primary.Stop(t)
		start := time.Now()
		if _, err := db.Get(t.Context(), "kept"); !errors.Is(err, link.ErrUnavailable) {
			t.Fatalf("Get with every server down = %v, want ErrUnavailable", err)
		}
		if err := db.ReadsAvailable(t.Context()); !errors.Is(err, link.ErrUnavailable) {
			t.Fatalf("ReadsAvailable with every server down = %v, want ErrUnavailable", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("answering with every server down took %v", d)
		}
	})
}

// TestReplicaDownAtStart opens a store whose replica is not there: it opens,
// serves reads from the primary and reports the replica down.
func TestReplicaDownAtStart(t *testing.T) {
	dsn := pgtest.Database(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	db := postgres.OpenTest(t, postgres.Options{
		URL:         dsn,
		ReplicaURLs: []string{fmt.Sprintf("postgres://postgres@%s/x?sslmode=disable", addr)},
		Timeout:     time.Second,
	})
	mustInsert(t, db, "abc", "https://example.com/abc")
	mustResolve(t, db, "abc", "https://example.com/abc")
	if _, err := db.Get(t.Context(), "nope"); !errors.Is(err, link.ErrNotFound) {
		t.Fatalf("Get(nope) = %v, want ErrNotFound", err)
	}
	if err := probe(db, "replica-1")(t.Context()); !errors.Is(err, link.ErrUnavailable) {
		t.Fatalf("replica probe = %v, want ErrUnavailable", err)
	}
	if len(db.Probes()) != 2 || db.ReadsAvailable(t.Context()) != nil {
		t.Fatal("reads should be available from the primary")
	}
}
