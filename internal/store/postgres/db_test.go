package postgres_test

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortlinks/shortlinks/internal/store"
	"github.com/shortlinks/shortlinks/internal/store/postgres"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
	"github.com/shortlinks/shortlinks/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Engine { return postgres.OpenTest(t, postgres.Options{}) })
}

func TestMigrate(t *testing.T) {
	dsn := pgtest.Database(t)
	// Not OpenTest: this test migrates for itself.
	open := func(maxConns int) *postgres.DB {
		db, err := postgres.Open(t.Context(), postgres.Options{URL: dsn, MaxConns: maxConns})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	db := open(8)
	cur, latest, err := db.SchemaVersion(t.Context())
	if err != nil || cur != 0 || latest < 1 {
		t.Fatalf("before migrating: SchemaVersion = %d, %d, %v; want 0, >=1", cur, latest, err)
	}

	// Instances started together with --auto-migrate all migrate at once;
	// the advisory lock makes them take turns, and each must succeed.
	const instances = 4
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i := range instances {
		other := open(2)
		wg.Go(func() { errs[i] = other.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate %d: %v", i, err)
		}
	}
	cur, latest, err = db.SchemaVersion(t.Context())
	if err != nil || cur != latest {
		t.Fatalf("after migrating: SchemaVersion = %d, %d, %v; want equal", cur, latest, err)
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("migrating again: %v", err)
	}
}

// TestReserveIDsAnySize mixes reservations smaller than, equal to and larger
// than the sequence's block, concurrently, and checks that no id is handed
// out twice and that every range is as long as asked.
func TestReserveIDsAnySize(t *testing.T) {
	db := postgres.OpenTest(t, postgres.Options{})
	sizes := []uint64{1, 7, 999, 1000, 1001, 2000, 2500, 10_000, 1000, 3}
	type span struct{ first, n uint64 }
	var mu sync.Mutex
	var spans []span
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := range 10 {
				n := sizes[(w+i)%len(sizes)]
				first, err := db.ReserveIDs(t.Context(), n)
				if err != nil {
					t.Errorf("ReserveIDs(%d): %v", n, err)
					return
				}
				mu.Lock()
				spans = append(spans, span{first, n})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	sort.Slice(spans, func(i, j int) bool { return spans[i].first < spans[j].first })
	for i := 1; i < len(spans); i++ {
		prev := spans[i-1]
		if prev.first+prev.n > spans[i].first {
			t.Fatalf("ranges overlap: [%d, %d) and [%d, %d)", prev.first, prev.first+prev.n, spans[i].first, spans[i].first+spans[i].n)
		}
	}
	if spans[0].first < 1 {
		t.Fatalf("first id %d, want ids from 1", spans[0].first)
	}
	if _, err := db.ReserveIDs(t.Context(), 0); err == nil {
		t.Fatal("ReserveIDs(0) succeeded")
	}
}

// TestUnreachable checks that a server that is not there fails fast, within
// the timeout, with ErrUnavailable.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A listener that never answers: connecting hangs rather than failing.
	t.Cleanup(func() { ln.Close() })
	start := time.Now()
	_, err = postgres.Open(t.Context(), postgres.Options{
		URL:     fmt.Sprintf("postgres://postgres@%s/x?sslmode=disable", ln.Addr()),
		Timeout: 300 * time.Millisecond,
	})
	if err == nil || !strings.Contains(err.Error(), "cannot reach the primary") {
		t.Fatalf("Open of a silent server = %v, want an error saying it cannot be reached", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Open of a silent server took %v with a 300ms timeout", d)
	}
}

func TestClickOrder(t *testing.T) {
	storetest.RunClickOrder(t, func(t *testing.T) (store.Engine, storetest.SetClicks) {
		dsn := pgtest.Database(t)
		db := postgres.OpenTest(t, postgres.Options{URL: dsn})
		return db, func(t *testing.T, id, humans, bots int64) {
			conn, err := pgx.Connect(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			_, err = conn.Exec(t.Context(),
				`INSERT INTO clicks_total (link_id, humans, bots, last_click) VALUES ($1, $2, $3, now())`, id, humans, bots)
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}
