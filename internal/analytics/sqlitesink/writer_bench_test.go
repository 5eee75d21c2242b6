package sqlitesink_test

import (
	"database/sql"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/analytics/sinktest"
	"github.com/shortlinks/shortlinks/internal/analytics/sqlitesink"
)

// BenchmarkWriter measures the in-process writer's CPU per click as the
// server runs it under 'make bench': one flush a second of 5,000 clicks
// (the rate of a busy one-core server on this machine) on 100,000 links
// drawn from a Zipf distribution (s = 1.1, v = 1), raw visits on.
// "bench" traffic is wrk's (no User-Agent, referrer or language: every
// click a bot with empty dimensions); "browsers" is sinktest.Batch's mix
// of Chrome, an iPhone and curl, with a referrer and a language.
// "uniform" draws the links uniformly, and "uniform-history" does so on
// tables that already hold two days of every link's counts and visits, as
// a server's do after running for a while.
//
// It uses only what every version of the sink has, so that the same file
// runs against an older commit in the same session: cpu-µs/click is the
// figure to compare, as a ratio of the two runs.
func BenchmarkWriter(b *testing.B) {
	const links, perFlush = 100_000, 5000
	for _, c := range []struct {
		name           string
		browsers, zipf bool
		historyHours   int
	}{
		{"bench", false, true, 0},
		{"browsers", true, true, 0},
		{"uniform", false, false, 0},
		{"uniform-history", false, false, 48},
	} {
		b.Run(c.name, func(b *testing.B) {
			db := openDB(b)
			start := time.Now().Truncate(time.Hour).Add(-time.Hour)
			if c.historyHours > 0 {
				fillHistory(b, db, links, c.historyHours, start)
			}
			s := sqlitesink.New(db, sqlitesink.Options{})
			p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			zipf := rand.NewZipf(rng, 1.1, 1, links-1)
			var batches []*analytics.Batch
			for i := range 16 {
				bt := sinktest.Batch(uint64(i+1), 0, perFlush)
				bt.Events = bt.Events[:perFlush]
				for j := range bt.Events {
					e := &bt.Events[j]
					e.LinkID = int64(rng.IntN(links) + 1)
					if c.zipf {
						e.LinkID = int64(zipf.Uint64() + 1)
					}
					e.Addr = netip.AddrFrom4([4]byte{198, 51, byte(j >> 8), byte(j)}).As16()
					if !c.browsers {
						e.UA, e.Referer, e.Language = 0, 0, 0
					}
				}
				batches = append(batches, bt)
			}
			cpu0 := cpuTime()
			for i := 0; b.Loop(); i++ {
				bt := *batches[i%len(batches)]
				bt.ID.Seq = uint64(i + 1)
				// Each flush a second after the one before, as in a server.
				bt.Events = append([]analytics.Event(nil), bt.Events...)
				t0 := start.Add(time.Duration(i) * time.Second).UnixNano()
				for j := range bt.Events {
					bt.Events[j].At = t0 + int64(j)*int64(time.Second)/perFlush
				}
				if err := p.Process(b.Context(), []*analytics.Batch{&bt}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/1e3/float64(b.N*perFlush), "cpu-µs/click")
		})
	}
}

// fillHistory gives each of links links, in the hours before start, a
// count an hour, a count a day of the device dimension (wrk's clicks are
// bots) and a visit pack an hour, written in the order of time as a
// server would have written them.
func fillHistory(b *testing.B, db *sql.DB, links, hours int, start time.Time) {
	b.Helper()
	pack := make([]byte, 40)
	const series = `WITH RECURSIVE l(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM l WHERE value < ?) `
	for h := hours; h > 0; h-- {
		at := start.Add(-time.Duration(h) * time.Hour)
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		for _, q := range []struct {
			query string
			args  []any
		}{
			{series + `INSERT INTO clicks_hourly (link_id, hour, humans, bots) SELECT value, ?, 0, 1 FROM l`,
				[]any{links, at.Unix()}},
			{series + `INSERT INTO clicks_daily (link_id, day, dim, value, humans, bots) SELECT value, ?, 5, 'bot', 0, 1 FROM l WHERE true
				ON CONFLICT DO UPDATE SET bots = bots + 1`, []any{links, at.Truncate(24 * time.Hour).Unix()}},
			{series + `INSERT INTO visit_packs (link_id, last_at, visits, data) SELECT value, ?, 1, ? FROM l`,
				[]any{links, at.UnixMicro(), pack}},
		} {
			if _, err := tx.Exec(q.query, q.args...); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStatsYear reads a link's hourly counts, and its report by day
// (the series and five breakdowns), over a year, from tables holding a
// year of counts for 200 links: the stats API's widest range, looked up
// an hour (a day) at a time through the tables' time-first keys.
func BenchmarkStatsYear(b *testing.B) {
	const links, hours = 200, 365 * 24
	db := openDB(b)
	end := time.Now().Truncate(24 * time.Hour)
	start := end.Add(-hours * time.Hour)
	const series = `WITH RECURSIVE l(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM l WHERE value < ?),
		h(at) AS (SELECT ? UNION ALL SELECT at + ? FROM h WHERE at + ? < ?) `
	for _, q := range []struct {
		query string
		step  time.Duration
	}{
		{series + `INSERT INTO clicks_hourly (link_id, hour, humans, bots) SELECT value, at, 1, 0 FROM h, l`, time.Hour},
		{series + `INSERT INTO clicks_daily (link_id, day, dim, value, humans, bots) SELECT value, at, 5, 'desktop', 24, 0 FROM h, l`, 24 * time.Hour},
	} {
		step := int64(q.step / time.Second)
		if _, err := db.Exec(q.query, links, start.Unix(), step, step, end.Unix()); err != nil {
			b.Fatal(err)
		}
	}
	s := sqlitesink.New(db, sqlitesink.Options{})
	b.Run("hourly", func(b *testing.B) {
		for b.Loop() {
			hs, err := s.Hourly(b.Context(), links/2, start, end)
			if err != nil || len(hs) != hours {
				b.Fatalf("Hourly = %d rows, %v; want %d", len(hs), err, hours)
			}
		}
	})
	b.Run("report", func(b *testing.B) {
		for b.Loop() {
			rep, err := analytics.NewReport(b.Context(), s, links/2, start, end, analytics.Day)
			if err != nil || rep.Clicks != hours || len(rep.Devices) == 0 || rep.Devices[0].Clicks != hours {
				b.Fatalf("NewReport = %+v, %v; want %d clicks, all desktop", rep, err, hours)
			}
		}
	})
}

// BenchmarkWriterHold measures how long the writer keeps the core from
// the redirects: on one P (GOMAXPROCS=1, as 'make bench' pins the server
// to one core), a goroutine that sleeps 200 µs at a time notes how late
// it wakes while the writer processes BenchmarkWriter's uniform flushes,
// ten times its size (50,000 clicks, three seconds of a saturated
// server). hold-max-ms is the longest it waited, hold-p99-ms the 99th
// percentile of its waits: a redirect arriving meanwhile waits as long.
// Like BenchmarkWriter it uses only what every version of the sink has.
func BenchmarkWriterHold(b *testing.B) {
	const links, perFlush = 100_000, 50_000
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	db := openDB(b)
	start := time.Now().Truncate(time.Hour).Add(-time.Hour)
	s := sqlitesink.New(db, sqlitesink.Options{})
	p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	proto := sinktest.Batch(1, 0, perFlush)
	proto.Events = proto.Events[:perFlush]
	for j := range proto.Events {
		e := &proto.Events[j]
		e.Addr = netip.AddrFrom4([4]byte{198, 51, byte(j >> 8), byte(j)}).As16()
		e.UA, e.Referer, e.Language = 0, 0, 0
	}
	var (
		mu    sync.Mutex
		waits []time.Duration
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		const nap = 200 * time.Microsecond
		for {
			select {
			case <-stop:
				return
			default:
			}
			t := time.Now()
			time.Sleep(nap)
			mu.Lock()
			waits = append(waits, time.Since(t)-nap)
			mu.Unlock()
		}
	}()
	for i := 0; b.Loop(); i++ {
		bt := *proto
		bt.ID.Seq = uint64(i + 1)
		bt.Events = append([]analytics.Event(nil), proto.Events...)
		t0 := start.Add(time.Duration(i) * 3 * time.Second).UnixNano()
		for j := range bt.Events {
			e := &bt.Events[j]
			e.LinkID = int64(rng.IntN(links) + 1)
			e.At = t0 + int64(j)*int64(3*time.Second)/perFlush
		}
		if err := p.Process(b.Context(), []*analytics.Batch{&bt}); err != nil {
			b.Fatal(err)
		}
	}
	close(stop)
	<-done
	slices.Sort(waits)
	if len(waits) == 0 {
		b.Fatal("the watching goroutine never woke")
	}
	b.ReportMetric(float64(waits[len(waits)-1])/1e6, "hold-max-ms")
	b.ReportMetric(float64(waits[len(waits)*99/100])/1e6, "hold-p99-ms")
}
