package sqlitesink_test

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/analytics/sinktest"
	"github.com/shortlinks/shortlinks/internal/analytics/sqlitesink"
)

// openDB returns the writing connection of a migrated store database.
func openDB(t testing.TB) *sql.DB { return sinktest.SQLite(t) }

func TestSink(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Store { return open(t, sqlitesink.Options{}) })
}

func TestRollupRetention(t *testing.T) {
	sinktest.RunRetention(t, func(t *testing.T, o analytics.SinkOptions) sinktest.ExpiringStore { return open(t, o) })
}

// open returns a sink on a new database, closed when the test ends.
func open(t testing.TB, opts sqlitesink.Options) *sqlitesink.Sink {
	t.Helper()
	s := sqlitesink.New(openDB(t), opts)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestExpire(t *testing.T) {
	db := openDB(t)
	now := sinktest.T0.Add(3 * time.Hour)
	s := sqlitesink.New(db, sqlitesink.Options{VisitRetention: 2 * time.Hour, Now: func() time.Time { return now }})
	p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		t.Fatal(err)
	}
	// 120 clicks a minute apart from T0: those before now-2h (the first 60)
	// are too old to keep as visits, but all are counted.
	if err := p.Process(t.Context(), []*analytics.Batch{sinktest.Batch(1, 1, 120)}); err != nil {
		t.Fatal(err)
	}
	sinktest.CheckTotal(t, s, 1, sinktest.Humans(120), sinktest.Bots(120))
	if n := visitCount(t, db); n != 60 {
		t.Errorf("%d visits kept, want 60", n)
	}
	// Half an hour later the older half is past the retention: the pack
	// stays (its newest visit is not), and reads leave those out.
	now = now.Add(30 * time.Minute)
	if err := s.Expire(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := visitCount(t, db); n != 60 {
		t.Errorf("%d visits stored after expiry, want the pack of 60", n)
	}
	if vs, err := s.Visits(t.Context(), 1, 1000); err != nil || len(vs) != 30 {
		t.Errorf("Visits after expiry: %d, %v; want the 30 inside the retention", len(vs), err)
	}
	now = now.Add(time.Hour)
	if err := s.Expire(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := visitCount(t, db); n != 0 {
		t.Errorf("%d visits stored once all are past the retention, want 0", n)
	}
}

// visitCount returns the visits stored, packed or one per row.
func visitCount(t *testing.T, db *sql.DB) int {
	t.Helper()
	var packed, single int
	if err := db.QueryRow(`SELECT coalesce(sum(visits), 0) FROM visit_packs`).Scan(&packed); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM visits`).Scan(&single); err != nil {
		t.Fatal(err)
	}
	return packed + single
}

// TestExpireWalksInRowidOrder checks expiry without an index on the time:
// more old packs than one chunk all go, the run stops at the first pack
// inside the retention, and a pack written late, behind newer ones, goes
// once the packs before it have.
func TestExpireWalksInRowidOrder(t *testing.T) {
	db := openDB(t)
	now := sinktest.T0.Add(24 * time.Hour)
	s := sqlitesink.New(db, sqlitesink.Options{VisitRetention: 2 * time.Hour, Now: func() time.Time { return now }})
	// Written in this order, each while it was inside the retention: 5,000
	// clicks on 5,000 links (a pack each, more than two chunks), a second
	// apart ending 2.5 hours before now, three clicks an hour before now,
	// and one click, on link 2, 3.5 hours before now that reached the
	// database last.
	old := now.Add(-150 * time.Minute)
	b := sinktest.Batch(1, 1, 5000)
	b.Events = b.Events[:5000]
	for i := range b.Events {
		b.Events[i].At = old.Add(time.Duration(i-5000) * time.Second).UnixNano()
		b.Events[i].LinkID = int64(i + 1)
	}
	fresh := now.Add(-time.Hour)
	late := sinktest.Batch(2, 1, 3)
	late.Events = late.Events[:3]
	for i := range late.Events {
		late.Events[i].At = fresh.UnixNano()
	}
	lateOld := sinktest.Batch(3, 2, 1)
	lateOld.Events = lateOld.Events[:1]
	lateOld.Events[0].At = old.Add(-time.Hour).UnixNano()
	writeAt := old.Add(time.Second)
	writer := sqlitesink.New(db, sqlitesink.Options{VisitRetention: 24 * time.Hour, Now: func() time.Time { return writeAt }})
	wp, err := analytics.NewProcessor(writer, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, bt := range []*analytics.Batch{b, late, lateOld} {
		if err := wp.Process(t.Context(), []*analytics.Batch{bt}); err != nil {
			t.Fatal(err)
		}
	}
	if n := visitCount(t, db); n != 5004 {
		t.Fatalf("%d visits written, want 5004", n)
	}
	// All 5,000 of the first batch are older than now-2h; the three fresh
	// ones stop the walk, so the late old one behind them stays.
	if err := s.Expire(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := visitCount(t, db); n != 4 {
		t.Errorf("%d visits after expiry, want 4 (3 fresh, 1 late behind them)", n)
	}
	now = now.Add(2 * time.Hour)
	if err := s.Expire(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := visitCount(t, db); n != 0 {
		t.Errorf("%d visits after the fresh ones expired, want 0", n)
	}
	sum, err := s.Sum(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := sinktest.Humans(5000) + sinktest.Humans(3) + sinktest.Humans(1); sum.Humans != want {
		t.Errorf("%d people counted, want %d", sum.Humans, want)
	}
}

// TestVisitsBeforePacks checks that visits stored one per row, before
// migration 00011, are read beside packed ones, newest first, and expire.
func TestVisitsBeforePacks(t *testing.T) {
	db := openDB(t)
	now := sinktest.T0.Add(3 * time.Hour)
	s := sqlitesink.New(db, sqlitesink.Options{VisitRetention: 2 * time.Hour, Now: func() time.Time { return now }})
	p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		t.Fatal(err)
	}
	// Packed: 3 clicks at T0+1h, +1h01, +1h02 (the first of them by Chrome).
	b := sinktest.Batch(1, 7, 3)
	for i := range b.Events[:3] {
		b.Events[i].At = sinktest.T0.Add(time.Hour + time.Duration(i)*time.Minute).UnixNano()
	}
	if err := p.Process(t.Context(), []*analytics.Batch{b}); err != nil {
		t.Fatal(err)
	}
	// One per row: one between the packed ones, one newer than all, one
	// past the retention.
	for _, at := range []time.Duration{time.Hour + 90*time.Second, 2 * time.Hour, 30 * time.Minute} {
		_, err := db.Exec(`INSERT INTO visits (at, link_id, ua, bot, addr, country, language, referrer)
			VALUES (?, 7, NULL, 0, '198.51.100.0', 'DE', 'de', 'old.example')`, sinktest.T0.Add(at).UnixMicro())
		if err != nil {
			t.Fatal(err)
		}
	}
	vs, err := s.Visits(t.Context(), 7, 4)
	if err != nil {
		t.Fatal(err)
	}
	var got []time.Duration
	for _, v := range vs {
		got = append(got, time.Unix(0, v.At).Sub(sinktest.T0))
	}
	want := []time.Duration{2 * time.Hour, time.Hour + 2*time.Minute, time.Hour + 90*time.Second, time.Hour + time.Minute}
	if !slices.Equal(got, want) {
		t.Fatalf("visits at %v, want %v", got, want)
	}
	if vs[2].Country != "DE" || vs[2].Referrer != "old.example" || vs[2].Addr.String() != "198.51.100.0" {
		t.Errorf("the stored row read back as %+v", vs[2].Visit)
	}
	all, err := s.Visits(t.Context(), 7, 100)
	if err != nil || len(all) != 5 {
		t.Fatalf("Visits(100): %d, %v; want 5 (the one past the retention left out)", len(all), err)
	}
	if u := all[4].UserAgent; u.Browser != "Chrome" || all[4].UA != u.Hash {
		t.Errorf("the oldest packed visit's agent is %+v, want Chrome's", u)
	}
	now = now.Add(2 * time.Hour)
	if err := s.Expire(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := visitCount(t, db); n != 0 {
		t.Errorf("%d visits after all expired, want 0", n)
	}
}

// TestPackRoundTrip checks that a pack reads back as written, and that a
// link with more visits in one write than a pack holds gets several.
func TestPackRoundTrip(t *testing.T) {
	s := open(t, sqlitesink.Options{VisitRetention: 100 * 365 * 24 * time.Hour})
	p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2500
	b := sinktest.Batch(1, 3, n)
	b.Events[1].Addr = netip.MustParseAddr("2001:db8:1:2::").As16()
	b.Events[2].Addr = [16]byte{}
	if err := p.Process(t.Context(), []*analytics.Batch{b}); err != nil {
		t.Fatal(err)
	}
	vs, err := s.Visits(t.Context(), 3, n+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != n {
		t.Fatalf("%d visits read back, want %d", len(vs), n)
	}
	for i, v := range vs {
		e := b.Events[n-1-i]
		if v.At != e.At || v.LinkID != 3 || v.Language != "en-us" {
			t.Fatalf("visit %d read back as %+v from %+v", i, v.Visit, e)
		}
	}
	// Stored anonymized: the last 80 bits of an IPv6 address zeroed.
	if a := vs[n-2].Addr; a != netip.MustParseAddr("2001:db8:1::") {
		t.Errorf("the IPv6 address read back as %v", a)
	}
	if a := vs[n-1].Addr; a != netip.MustParseAddr("198.51.100.0") {
		t.Errorf("the IPv4 address read back as %v", a)
	}
}

// TestExpireKeepNone checks that with no visits to keep (the setting at
// 0) Expire deletes the visits written before, and the counts stay.
func TestExpireKeepNone(t *testing.T) {
	db := openDB(t)
	now := sinktest.T0.Add(3 * time.Hour)
	clock := func() time.Time { return now }
	p, err := analytics.NewProcessor(sqlitesink.New(db, sqlitesink.Options{Now: clock}),
		analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Process(t.Context(), []*analytics.Batch{sinktest.Batch(1, 1, 30)}); err != nil {
		t.Fatal(err)
	}
	s := sqlitesink.New(db, sqlitesink.Options{VisitRetention: -1, Now: clock})
	if vs, _ := s.Visits(t.Context(), 1, 100); len(vs) != 30 {
		t.Fatalf("%d visits before expiry, want 30", len(vs))
	}
	if err := s.Expire(t.Context()); err != nil {
		t.Fatal(err)
	}
	if vs, _ := s.Visits(t.Context(), 1, 100); len(vs) != 0 {
		t.Errorf("%d visits kept with retention none, want 0", len(vs))
	}
	sinktest.CheckTotal(t, s, 1, sinktest.Humans(30), sinktest.Bots(30))
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

// TestBytesPerRow measures what each table and its indexes take per row,
// from SQLite's own page accounting (dbstat), after writing 100,000 clicks
// on 20,000 links in 50 transactions.
func TestBytesPerRow(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("writes 100,000 clicks: a measurement, skipped in -short and -race runs")
	}
	db := openDB(t)
	s := sqlitesink.New(db, sqlitesink.Options{})
	p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		var bs []*analytics.Batch
		for j := range 10 {
			bs = append(bs, spread(sinktest.Batch(uint64(i*10+j+1), 0, 200)))
		}
		if err := p.Process(t.Context(), bs); err != nil {
			t.Fatal(err)
		}
	}
	// The hourly and daily counts still in memory go to their tables.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"clicks_hourly", "clicks_daily", "clicks_total", "visit_packs", "analytics_batches"} {
		var rows, bytes int64
		count := `SELECT count(*) FROM `
		if table == "visit_packs" {
			count = `SELECT sum(visits) FROM ` // per visit
		}
		if err := db.QueryRow(count + table).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		err := db.QueryRow(`SELECT sum(pgsize) FROM dbstat WHERE name = ? OR name IN (SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?)`, table, table).Scan(&bytes)
		if err != nil {
			t.Fatalf("dbstat: %v", err)
		}
		if rows == 0 {
			t.Fatalf("%s is empty", table)
		}
		per := float64(bytes) / float64(rows)
		t.Logf("%-18s %7d rows %6.1f bytes/row (with indexes)", table, rows, per)
		// A visit refers to its User-Agent by hash; a row that carried the
		// User-Agent itself would take twice this.
		if table == "visit_packs" && per > 150 {
			t.Errorf("a visit takes %.0f bytes, want under 150", per)
		}
	}
}

// BenchmarkProcess measures applying batches of 4,096 clicks on 2,000
// Zipf-distributed links to SQLite, with and without raw visits:
// events/cpu-s is per second of the process's CPU, events/s per second of
// wall clock on this shared machine.
func BenchmarkProcess(b *testing.B) {
	for _, visits := range []bool{true, false} {
		b.Run(map[bool]string{true: "visits", false: "rollups-only"}[visits], func(b *testing.B) {
			s := sqlitesink.New(openDB(b), sqlitesink.Options{})
			p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: visits}})
			if err != nil {
				b.Fatal(err)
			}
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
		})
	}
}

// cpuTime returns the CPU time the process has used, user and system, as
// the kernel accounts it.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestPackChain checks that a link's visits are found through its chain of
// packs across writes, and that a chain left pointing into an emptied
// table, whose rowids start again, leads to no other link's visits.
func TestPackChain(t *testing.T) {
	db := openDB(t)
	now := sinktest.T0.Add(time.Hour)
	s := sqlitesink.New(db, sqlitesink.Options{VisitRetention: 2 * time.Hour, Now: func() time.Time { return now }})
	p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		t.Fatal(err)
	}
	seq := uint64(0)
	write := func(link int64, n int, at time.Time) {
		t.Helper()
		seq++
		if err := p.Process(t.Context(), []*analytics.Batch{sinktest.BatchAt(seq, link, n, at)}); err != nil {
			t.Fatal(err)
		}
	}
	visits := func(link int64) []int64 {
		t.Helper()
		vs, err := s.Visits(t.Context(), link, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, v := range vs {
			if v.LinkID != link {
				t.Errorf("a visit of link %d read as link %d's", v.LinkID, link)
			}
			out = append(out, (v.At-sinktest.T0.UnixNano())/int64(time.Minute))
		}
		return out
	}
	// Link 7's visits in three writes, link 8's between them.
	write(7, 2, sinktest.T0)
	write(8, 1, sinktest.T0.Add(time.Minute))
	write(7, 1, sinktest.T0.Add(5*time.Minute))
	write(8, 1, sinktest.T0.Add(6*time.Minute))
	write(7, 3, sinktest.T0.Add(10*time.Minute))
	if got, want := visits(7), []int64{12, 11, 10, 5, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("link 7's visits at minutes %v, want %v", got, want)
	}
	if got, want := visits(8), []int64{6, 1}; !slices.Equal(got, want) {
		t.Errorf("link 8's visits at minutes %v, want %v", got, want)
	}

	// All expire; the table starts its rowids again.
	now = now.Add(4 * time.Hour)
	if err := s.Expire(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := visitCount(t, db); n != 0 {
		t.Fatalf("%d visits after all expired, want 0", n)
	}
	// Link 8's new packs take rowids 1 to 5, the first pointing at 4 (its
	// newest before); link 7's at 5 (its newest before, now link 8's).
	late := now.Add(-time.Hour)
	for i := range 5 {
		write(8, 1, late.Add(time.Duration(i)*time.Minute))
	}
	write(7, 1, late.Add(10*time.Minute))
	if got, want := len(visits(7)), 1; got != want {
		t.Errorf("link 7 has %d visits after expiry and one more, want %d", got, want)
	}
	if got, want := len(visits(8)), 5; got != want {
		t.Errorf("link 8 has %d visits after expiry and five more, want %d", got, want)
	}
}

// TestRecentPacks checks that a write names each link's pack before from
// memory when the link was packed in a recent write that committed, and
// reads it from clicks_total otherwise: for links beyond the two
// generations remembered, after a write that failed, and in a new sink on
// the same database. Every link's visits are found through its chain
// whichever way its pack before was named.
func TestRecentPacks(t *testing.T) {
	const links = 10
	db := openDB(t)
	newSink := func(remember int) (*sqlitesink.Sink, *analytics.Processor) {
		s := sqlitesink.New(db, sqlitesink.Options{})
		sqlitesink.SetRememberedPacks(s, remember)
		p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
		if err != nil {
			t.Fatal(err)
		}
		return s, p
	}
	s, p := newSink(links)
	seq := uint64(0)
	want := map[int64]int{}
	write := func(p *analytics.Processor, ls ...int64) {
		t.Helper()
		seq++
		if err := p.Process(t.Context(), []*analytics.Batch{clicks(seq, sinktest.T0.Add(time.Duration(seq)*time.Minute), 1, ls...)}); err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			want[l]++
		}
	}
	check := func(s *sqlitesink.Sink, when string) {
		t.Helper()
		for l := int64(1); l <= links; l++ {
			vs, err := s.Visits(t.Context(), l, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != want[l] {
				t.Fatalf("%s: link %d has %d visits, want %d", when, l, len(vs), want[l])
			}
			for _, v := range vs {
				if v.LinkID != l {
					t.Fatalf("%s: a visit of link %d read as link %d's", when, v.LinkID, l)
				}
			}
		}
	}
	asked := func(s *sqlitesink.Sink, want int, when string) {
		t.Helper()
		if got := sqlitesink.PackRowsRead(s); got != want {
			t.Fatalf("%s: %d links' pack rows read from clicks_total, want %d", when, got, want)
		}
	}
	all := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

	write(p, all...)
	asked(s, links, "first write")
	write(p, all...)
	write(p, 2, 4, 6)
	asked(s, links, "links written lately")
	check(s, "remembered")

	// A write that fails forgets: its commit may have been made.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.Process(ctx, []*analytics.Batch{clicks(seq+1, sinktest.T0, 1, 1)}); err == nil {
		t.Fatal("a write with its context cancelled succeeded")
	}
	write(p, 1, 2)
	asked(s, links+2, "after a failed write")

	// A new sink on the database remembers nothing, and remembers at most
	// two generations of three links: of 1..10 written in turn, the last
	// four (7..10) are remembered, 3..6 are not.
	s2, p2 := newSink(3)
	write(p2, all...)
	asked(s2, links, "a new sink")
	write(p2, 3, 4, 5, 6, 7, 8, 9, 10)
	asked(s2, links+4, "beyond two generations")
	check(s2, "a new sink")
	check(s, "the first sink")
}

// TestVersion1Packs checks that the packs written a row per link, before
// rows of many links' packs, are read on through the chains the new rows
// continue.
func TestVersion1Packs(t *testing.T) {
	db := openDB(t)
	old := func(minute int) analytics.Visit {
		return analytics.Visit{At: sinktest.T0.Add(time.Duration(minute) * time.Minute).UnixNano(), Country: "DE"}
	}
	for _, r := range []struct {
		rowid, link int64
		prev        any
		visits      []analytics.Visit
	}{
		{1, 7, nil, []analytics.Visit{old(0), old(1)}},
		{2, 8, nil, []analytics.Visit{old(2)}},
		{3, 7, int64(1), []analytics.Visit{old(3)}},
	} {
		_, err := db.Exec(`INSERT INTO visit_packs (rowid, link_id, last_at, visits, data, prev) VALUES (?, ?, ?, ?, ?, ?)`,
			r.rowid, r.link, r.visits[len(r.visits)-1].At/1000, len(r.visits), sqlitesink.PackV1(r.visits), r.prev)
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO clicks_total (link_id, humans, bots, last_click, last_pack) VALUES (7, 3, 0, 0, 3), (8, 1, 0, 0, 2)`); err != nil {
		t.Fatal(err)
	}
	s := sqlitesink.New(db, sqlitesink.Options{})
	p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		t.Fatal(err)
	}
	for i, link := range []int64{7, 8, 7} {
		if err := p.Process(t.Context(), []*analytics.Batch{sinktest.BatchAt(uint64(i+1), link, 2, sinktest.T0.Add(time.Duration(10+i)*time.Minute))}); err != nil {
			t.Fatal(err)
		}
	}
	for link, want := range map[int64]int{7: 3 + 4, 8: 1 + 2} {
		vs, err := s.Visits(t.Context(), link, 100)
		if err != nil || len(vs) != want {
			t.Fatalf("link %d: %d visits, %v; want %d", link, len(vs), err, want)
		}
		if vs[len(vs)-1].Country != "DE" {
			t.Errorf("link %d: the oldest visit read as %+v, not the version 1 pack's", link, vs[len(vs)-1].Visit)
		}
	}
}
