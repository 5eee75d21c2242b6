package sqlitesink_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/analytics/sinktest"
	"github.com/shortlinks/shortlinks/internal/analytics/sqlitesink"
)

// clicks is a batch of Chrome clicks with a referrer: n on each of links,
// in the hour at.
func clicks(seq uint64, at time.Time, n int, links ...int64) *analytics.Batch {
	b := &analytics.Batch{ID: analytics.BatchID{Producer: 1, Seq: seq},
		Strings: []string{"", sinktest.Chrome, "https://news.example.com/a", "en-US"}}
	for _, l := range links {
		for i := range n {
			b.Events = append(b.Events, analytics.Event{At: at.Add(time.Duration(i) * time.Second).UnixNano(), LinkID: l,
				UA: 1, Referer: 2, Language: 3, Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).As16()})
		}
	}
	return b
}

type hourKey struct {
	link int64
	hour int64
}

// checkCounts fails t unless s reads want for every link of 1..links: its
// clicks of each hour, and their sum in its browser breakdown, its total
// (alone and among all) and the sum of all totals.
func checkCounts(t *testing.T, s analytics.Stats, links int64, want map[hourKey]int64, when string) {
	t.Helper()
	from, to := sinktest.T0.Add(-4*time.Hour), sinktest.T0.Add(time.Hour)
	ids := []int64{links + 1} // never clicked: no total
	for l := int64(1); l <= links; l++ {
		ids = append(ids, l, l)
	}
	totals, err := s.Totals(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	var all int64
	for l := int64(1); l <= links; l++ {
		hs, err := s.Hourly(t.Context(), l, from, to)
		if err != nil {
			t.Fatal(err)
		}
		var sum, wantSum int64
		got := map[int64]int64{}
		for _, h := range hs {
			got[h.Hour] += h.Humans + h.Bots
			sum += h.Humans + h.Bots
		}
		for k, n := range want {
			if k.link == l {
				wantSum += n
				if got[k.hour] != n {
					t.Fatalf("%s: link %d, hour %d: %d clicks, want %d", when, l, k.hour, got[k.hour], n)
				}
			}
		}
		if sum != wantSum || len(got) != len(hs) {
			t.Fatalf("%s: link %d: %d clicks in %d rows, want %d", when, l, sum, len(hs), wantSum)
		}
		bs, err := s.Breakdowns(t.Context(), l, []analytics.Dimension{analytics.DimBrowser}, from, to)
		if err != nil {
			t.Fatal(err)
		}
		var chrome int64
		for _, b := range bs[analytics.DimBrowser] {
			if b.Value == "Chrome" {
				chrome += b.Humans + b.Bots
			}
		}
		if chrome != wantSum {
			t.Fatalf("%s: link %d: %d clicks from Chrome in the breakdown %+v, want %d", when, l, chrome, bs, wantSum)
		}
		total, err := s.Total(t.Context(), l)
		if err != nil {
			t.Fatal(err)
		}
		if total.Humans+total.Bots != wantSum || totals[l].Humans+totals[l].Bots != wantSum {
			t.Fatalf("%s: link %d: total %+v, among all %+v, want %d clicks", when, l, total, totals[l], wantSum)
		}
		if wantSum > 0 && total.Last < from.UnixNano() {
			t.Fatalf("%s: link %d: last click at %d", when, l, total.Last)
		}
		// Its visits, found through the chain of its packs, which the
		// pending totals lead into.
		if vs, err := s.Visits(t.Context(), l, 1000); err != nil || int64(len(vs)) != wantSum {
			t.Fatalf("%s: link %d: %d visits, %v; want %d", when, l, len(vs), err, wantSum)
		}
		all += wantSum
	}
	if _, ok := totals[links+1]; ok {
		t.Fatalf("%s: a link never clicked has a total", when)
	}
	if sum, err := s.(interface {
		Sum(context.Context) (analytics.TotalCount, error)
	}).Sum(t.Context()); err != nil || sum.Humans+sum.Bots != all {
		t.Fatalf("%s: sum of totals %+v, %v; want %d clicks", when, sum, err, all)
	}
}

func pendingRows(t *testing.T, db *sql.DB) (logged int, next int64) {
	t.Helper()
	if err := db.QueryRow(`SELECT count(*) FROM analytics_pending`).Scan(&logged); err != nil {
		t.Fatal(err)
	}
	err := db.QueryRow(`SELECT next FROM analytics_fold`).Scan(&next)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.Fatal(err)
	}
	return logged, next
}

// TestFold writes clicks on twelve links over three hours through folds
// that take several writes each, and reads every count after every write;
// twice in the middle of a fold, the sink is dropped without Close, as a
// killed server's is, and a new one goes on from the database.
func TestFold(t *testing.T) {
	const links = 12
	db := openDB(t)
	open := func() (*sqlitesink.Sink, *analytics.Processor) {
		s := sqlitesink.New(db, sqlitesink.Options{})
		sqlitesink.SetFoldLimits(s, 3, 1<<30, 4)
		// Fewer than the links: some packs before are remembered, some read.
		sqlitesink.SetRememberedPacks(s, 5)
		p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
		if err != nil {
			t.Fatal(err)
		}
		return s, p
	}
	s, p := open()
	want := map[hourKey]int64{}
	crashes, folds := 0, 0
	for w := range 60 {
		at := sinktest.T0.Add(-time.Duration(w%3) * time.Hour)
		ls := []int64{int64(w%links) + 1, int64(w*5%links) + 1, int64(w*7%links) + 1}
		n := w%3 + 1
		if err := p.Process(t.Context(), []*analytics.Batch{clicks(uint64(w+1), at, n, ls...)}); err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			want[hourKey{l, at.Unix()}] += int64(n)
		}
		checkCounts(t, s, links, want, fmt.Sprintf("write %d", w))
		if _, next := pendingRows(t, db); next > 1 {
			folds++
			if folds%4 == 1 && crashes < 2 {
				if err := sqlitesink.Abandon(s); err != nil {
					t.Fatal(err)
				}
				crashes++
				s, p = open()
				checkCounts(t, s, links, want, fmt.Sprintf("after a crash at write %d", w))
			}
		}
	}
	if crashes < 2 {
		t.Fatalf("only %d crashes in the middle of a fold", crashes)
	}
	if logged, _ := pendingRows(t, db); logged == 0 {
		t.Fatal("nothing left to fold before Close: Close's fold is untested")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if logged, next := pendingRows(t, db); logged != 0 || next != 0 {
		t.Fatalf("after Close, %d rows logged and a fold at link %d", logged, next)
	}
	// All in the tables now, read by SQL alone.
	rows, err := db.Query(`SELECT link_id, hour, humans + bots FROM clicks_hourly`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[hourKey]int64{}
	for rows.Next() {
		var k hourKey
		var n int64
		if err := rows.Scan(&k.link, &k.hour, &n); err != nil {
			t.Fatal(err)
		}
		got[k] = n
	}
	if len(got) != len(want) {
		t.Fatalf("clicks_hourly holds %d rows, want %d", len(got), len(want))
	}
	var hourlySum, totalSum int64
	for _, n := range want {
		hourlySum += n
	}
	if err := db.QueryRow(`SELECT sum(humans + bots) FROM clicks_total`).Scan(&totalSum); err != nil || totalSum != hourlySum {
		t.Fatalf("clicks_total sums to %d, %v; want %d", totalSum, err, hourlySum)
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("clicks_hourly: link %d, hour %d: %d, want %d", k.link, k.hour, got[k], n)
		}
	}
	checkCounts(t, sqlitesink.New(db, sqlitesink.Options{}), links, want, "after Close")
}

// TestFoldReadsWhileWriting reads two links' counts while writes go on and
// fold: no read sees an increment twice (in memory and in the tables) or
// not at all, in the hourly counts or the total read after them.
func TestFoldReadsWhileWriting(t *testing.T) {
	db := openDB(t)
	s := sqlitesink.New(db, sqlitesink.Options{})
	sqlitesink.SetFoldLimits(s, 2, 1<<30, 1)
	p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		t.Fatal(err)
	}
	const writes = 60
	var started, applied atomic.Int64 // writes begun, and committed
	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				before := applied.Load()
				for l, per := range map[int64]int64{1: 2, 2: 3} {
					hs, err := s.Hourly(t.Context(), l, sinktest.T0.Add(-time.Hour), sinktest.T0.Add(time.Hour))
					if err != nil {
						t.Error(err)
						return
					}
					var n int64
					for _, h := range hs {
						n += h.Humans + h.Bots
					}
					total, err := s.Total(t.Context(), l)
					if err != nil {
						t.Error(err)
						return
					}
					if after := started.Load(); n < before*per || n > after*per || total.Humans+total.Bots < n || total.Humans+total.Bots > after*per {
						t.Errorf("link %d: read %d clicks (total %+v) between %d and %d writes of %d", l, n, total, before, after, per)
						return
					}
				}
			}
		})
	}
	for w := range writes {
		b := clicks(uint64(w+1), sinktest.T0, 2, 1)
		b.Events = append(b.Events, clicks(0, sinktest.T0, 3, 2).Events...)
		started.Add(1)
		if err := p.Process(t.Context(), []*analytics.Batch{b}); err != nil {
			t.Fatal(err)
		}
		applied.Add(1)
	}
	close(done)
	wg.Wait()
	checkCounts(t, s, 2, map[hourKey]int64{{1, sinktest.T0.Unix()}: 2 * writes, {2, sinktest.T0.Unix()}: 3 * writes}, "at the end")
}
