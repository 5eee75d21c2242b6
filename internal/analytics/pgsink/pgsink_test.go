package pgsink_test

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/analytics/pgsink"
	"github.com/shortlinks/shortlinks/internal/analytics/sinktest"
)

// openPool returns a pool on a scratch database migrated by the store.
func openPool(t testing.TB) *pgxpool.Pool { return sinktest.Postgres(t) }

func TestSink(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Store { return pgsink.New(openPool(t), pgsink.Options{}) })
}

func TestRollupRetention(t *testing.T) {
	sinktest.RunRetention(t, func(t *testing.T, o analytics.SinkOptions) sinktest.ExpiringStore {
		s := pgsink.New(openPool(t), o)
		if err := s.Prepare(t.Context(), 2); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestPartitionsAndExpiry(t *testing.T) {
	pool := openPool(t)
	now := sinktest.T0.Add(49 * time.Hour)
	s := pgsink.New(pool, pgsink.Options{VisitRetention: 48 * time.Hour, Now: func() time.Time { return now }})
	ctx := t.Context()
	if err := s.Prepare(ctx, 2); err != nil {
		t.Fatal(err)
	}
	p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		t.Fatal(err)
	}
	// Clicks from T0 on, a minute apart, for three hours: the first hour is
	// past the retention, so it is counted but kept as no visit.
	if err := p.Process(ctx, []*analytics.Batch{sinktest.Batch(1, 1, 180)}); err != nil {
		t.Fatal(err)
	}
	sinktest.CheckTotal(t, s, 1, sinktest.Humans(180), sinktest.Bots(180))
	var visits, parts int
	count := func() {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM visits`).Scan(&visits); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'visits'::regclass`).Scan(&parts); err != nil {
			t.Fatal(err)
		}
	}
	count()
	if visits != 120 {
		t.Errorf("%d visits kept, want 120", visits)
	}
	// Partitions: today and two days ahead (Prepare), and the days of the
	// clicks kept, which are before today.
	if parts < 4 {
		t.Errorf("%d partitions, want at least 3", parts)
	}
	// Three days later every partition of the clicks' days is past the
	// retention and dropped whole.
	now = now.Add(72 * time.Hour)
	if err := s.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	count()
	if visits != 0 {
		t.Errorf("%d visits after expiry, want 0", visits)
	}
}

// TestExpireKeepNone checks that with no visits to keep (the setting at
// 0) Expire drops the past days' partitions and deletes today's rows in
// chunks, and the counts stay.
func TestExpireKeepNone(t *testing.T) {
	pool := openPool(t)
	ctx := t.Context()
	now := time.Now().UTC()
	clock := func() time.Time { return now }
	w := pgsink.New(pool, pgsink.Options{Now: clock})
	p, err := analytics.NewProcessor(w, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		t.Fatal(err)
	}
	// 6,000 clicks (more than a chunk) in the last 100 minutes, and 90 a
	// day earlier: today's partition and yesterday's, or two of yesterday's.
	b := sinktest.Batch(1, 1, 6000)
	b.Events = b.Events[:6000]
	for i := range b.Events {
		b.Events[i].At = now.Add(-time.Duration(i) * time.Second).UnixNano()
	}
	old := sinktest.Batch(2, 1, 90)
	for i := range old.Events {
		old.Events[i].At = now.Add(-26*time.Hour + time.Duration(i)*time.Minute).UnixNano()
	}
	if err := p.Process(ctx, []*analytics.Batch{b, old}); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM visits`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 6090 {
		t.Fatalf("%d visits written, want 6090", n)
	}
	s := pgsink.New(pool, pgsink.Options{VisitRetention: -1, Now: clock})
	if err := s.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Errorf("%d visits kept with retention none, want 0", n)
	}
	var past int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'visits'::regclass AND c.relname < $1`, "visits_"+now.Format("20060102")).Scan(&past); err != nil {
		t.Fatal(err)
	}
	if past != 0 {
		t.Errorf("%d partitions of past days left, want 0", past)
	}
	sinktest.CheckTotal(t, s, 1, sinktest.Humans(6000)+sinktest.Humans(90), sinktest.Bots(6000)+sinktest.Bots(90))
}

// spread moves b's clicks onto 20,000 links, so that every table gets
// many rows.
func spread(b *analytics.Batch) *analytics.Batch {
	for j := range b.Events {
		if b.Events[j].Kind == analytics.Redirect {
			b.Events[j].LinkID = int64((b.ID.Seq*7919 + uint64(j)*104729) % 20000)
		}
	}
	return b
}

// TestBytesPerRow measures each table's size per row, indexes and TOAST
// included, after writing 100,000 clicks on 20,000 links in 50
// transactions.
func TestBytesPerRow(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("writes 100,000 clicks: a measurement, skipped in -short and -race runs")
	}
	pool := openPool(t)
	s := pgsink.New(pool, pgsink.Options{})
	p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i := range 50 {
		var bs []*analytics.Batch
		for j := range 10 {
			bs = append(bs, spread(sinktest.Batch(uint64(i*10+j+1), 0, 200)))
		}
		if err := p.Process(ctx, bs); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"clicks_hourly", "clicks_daily", "clicks_total", "visits", "user_agents", "analytics_batches"} {
		var rows, total, heap, tuple int64
		// A partitioned table has no storage of its own: add its
		// partitions. heap is the table's main fork (pg_relation_size),
		// tuple the mean of pg_column_size over its rows (the data alone,
		// without page and item overhead); total adds indexes and TOAST.
		err := pool.QueryRow(ctx, `WITH rels AS (SELECT c.oid FROM pg_class c
			 WHERE c.oid = $1::regclass OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::regclass))
			SELECT (SELECT count(*) FROM `+table+`),
			(SELECT sum(pg_total_relation_size(oid)) FROM rels),
			(SELECT sum(pg_relation_size(oid)) FROM rels),
			(SELECT coalesce(avg(pg_column_size(t.*)), 0)::bigint FROM `+table+` t)`, table).Scan(&rows, &total, &heap, &tuple)
		if err != nil {
			t.Fatal(err)
		}
		if rows == 0 {
			t.Fatalf("%s is empty", table)
		}
		per := float64(total) / float64(rows)
		t.Logf("%-18s %7d rows %6.1f bytes/row with indexes (heap %6.1f, tuple data %d, indexes and TOAST %6.1f)",
			table, rows, per, float64(heap)/float64(rows), tuple, float64(total-heap)/float64(rows))
		if table == "visits" && per > 200 {
			t.Errorf("a visit takes %.0f bytes, want under 200", per)
		}
	}
}

// BenchmarkProcess measures a worker applying batches of 4,096 clicks on
// 2,000 links to PostgreSQL, visits included: events/cpu-s is per second of the worker's
// own CPU (PostgreSQL's is not counted), events/s per second of wall clock
// on this shared machine, where the server competes for the same cores.
func BenchmarkProcess(b *testing.B) {
	pool := openPool(b)
	s := pgsink.New(pool, pgsink.Options{})
	p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		b.Fatal(err)
	}
	// Links drawn from a Zipf distribution over 2,000, as redirects are.
	const size = 4096
	zipf := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, 1999)
	var batches []*analytics.Batch
	for i := range 16 {
		bt := sinktest.Batch(uint64(i+1), 0, size)
		bt.Events = bt.Events[:size]
		for j := range bt.Events {
			bt.Events[j].LinkID = int64(zipf.Uint64() + 1)
		}
		batches = append(batches, bt)
	}
	cpu0 := cpuTime()
	for i := 0; b.Loop(); i++ {
		bt := *batches[i%len(batches)]
		bt.ID.Seq = uint64(i + 1)
		if err := p.Process(b.Context(), []*analytics.Batch{&bt}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*size/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N)*size/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}

// cpuTime returns the CPU time the process has used, user and system, as
// the kernel accounts it. On a shared machine this, not the wall clock, is
// what the work cost. It includes the collector's marking on Ps that would
// otherwise idle.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
