// Package sinktest checks an analytics Sink and its Stats against their
// contracts: counts read back as written, each batch counted once however
// often it is applied, and concurrent writers that neither double-count nor
// deadlock. Each engine's tests run it on a scratch database.
package sinktest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/analytics"
)

// Store is what an engine provides.
type Store interface {
	analytics.Sink
	analytics.Stats
}

// ExpiringStore is a Store that deletes what its retentions let go.
type ExpiringStore interface {
	Store
	Expire(ctx context.Context) error
}

// Browser and bot User-Agents the tests use.
const (
	Chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	IPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"
	Curl   = "curl/8.5.0"
)

// T0 is the time the tests' clicks happen around. Sinks under test should
// have a clock near it (within their visit retention).
var T0 = time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)

// Batch returns a batch with id seq from producer 1: n clicks on link,
// one a minute from T0, alternating Chrome from the news site, an iPhone
// with no referrer, and curl; plus one orphan visit.
func Batch(seq uint64, link int64, n int) *analytics.Batch {
	return BatchAt(seq, link, n, T0)
}

// BatchAt is Batch with its clicks from start.
func BatchAt(seq uint64, link int64, n int, start time.Time) *analytics.Batch {
	b := &analytics.Batch{
		ID:      analytics.BatchID{Producer: 1, Seq: seq},
		Strings: []string{"", Chrome, IPhone, Curl, "https://news.example.com/a", "en-US"},
	}
	for i := range n {
		e := analytics.Event{At: start.Add(time.Duration(i) * time.Minute).UnixNano(), LinkID: link, Language: 5,
			Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).As16()}
		switch i % 3 {
		case 0:
			e.UA, e.Referer = 1, 4
		case 1:
			e.UA = 2
		case 2:
			e.UA = 3
		}
		b.Events = append(b.Events, e)
	}
	b.Events = append(b.Events, analytics.Event{At: start.UnixNano(), Kind: analytics.OrphanUnknown})
	return b
}

// Humans and Bots are the people and bots among n clicks of Batch.
func Humans(n int) int64 { return int64(n - n/3) }
func Bots(n int) int64   { return int64(n / 3) }

func processor(t *testing.T, s Store) *analytics.Processor {
	t.Helper()
	p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// CheckTotal fails t unless link's totals are humans and bots.
func CheckTotal(t testing.TB, s analytics.Stats, link, humans, bots int64) {
	t.Helper()
	got, err := s.Total(t.Context(), link)
	if err != nil {
		t.Fatal(err)
	}
	if got.Humans != humans || got.Bots != bots {
		t.Errorf("link %d: %d humans, %d bots; want %d, %d", link, got.Humans, got.Bots, humans, bots)
	}
}

// Run runs the suite; open returns an empty, migrated store.
func Run(t *testing.T, open func(t *testing.T) Store) {
	t.Run("ReadBack", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		if err := processor(t, s).Process(ctx, []*analytics.Batch{Batch(1, 10, 90)}); err != nil {
			t.Fatal(err)
		}
		CheckTotal(t, s, 10, Humans(90), Bots(90))
		tot, _ := s.Total(ctx, 10)
		if want := T0.Add(89 * time.Minute).UnixNano(); tot.Last != want {
			t.Errorf("Last = %v, want %v", time.Unix(0, tot.Last), time.Unix(0, want))
		}
		CheckTotal(t, s, 11, 0, 0)
		totals, err := s.Totals(ctx, []int64{10, 11})
		if err != nil {
			t.Fatal(err)
		}
		if len(totals) != 1 || totals[10] != tot {
			t.Errorf("Totals(10, 11) = %+v, want only link 10 as Total gives it: %+v", totals, tot)
		}

		hours, err := s.Hourly(ctx, 10, T0, T0.Add(3*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := []analytics.HourlyCount{{LinkID: 10, Hour: T0.Unix(), Humans: 40, Bots: 20}, {LinkID: 10, Hour: T0.Add(time.Hour).Unix(), Humans: 20, Bots: 10}}
		if fmt.Sprint(hours) != fmt.Sprint(want) {
			t.Errorf("Hourly = %v, want %v", hours, want)
		}
		if hours, _ := s.Hourly(ctx, 10, T0.Add(time.Hour), T0.Add(time.Hour)); len(hours) != 0 {
			t.Errorf("an empty range has %d hours", len(hours))
		}

		all, err := s.Breakdowns(ctx, 10, []analytics.Dimension{analytics.DimReferrer, analytics.DimDevice}, T0, T0)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 {
			t.Errorf("Breakdowns of two dimensions = %+v", all)
		}
		ref := all[analytics.DimReferrer]
		if len(ref) != 2 || ref[0].Value != "" || ref[0].Humans != 30 || ref[0].Bots != 30 || ref[1].Value != "news.example.com" || ref[1].Humans != 30 {
			t.Errorf("referrers = %+v", ref)
		}
		// No GeoIP database: no click has a country, so no row was
		// written for one, and every click is the unknown row.
		countries, err := breakdown(ctx, s, 10, analytics.DimCountry, T0, T0.Add(3*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(countries) != fmt.Sprint([]analytics.DailyCount{{LinkID: 10, Dim: analytics.DimCountry, Humans: Humans(90), Bots: Bots(90)}}) {
			t.Errorf("countries = %+v", countries)
		}
		dev := all[analytics.DimDevice]
		if fmt.Sprint(dev) != fmt.Sprint([]analytics.DailyCount{
			{LinkID: 10, Dim: analytics.DimDevice, Value: "desktop", Humans: 30},
			{LinkID: 10, Dim: analytics.DimDevice, Value: "mobile", Humans: 30},
			{LinkID: 10, Dim: analytics.DimDevice, Value: "bot", Bots: 30},
		}) {
			t.Errorf("devices = %+v", dev)
		}

		orphans, err := s.Orphans(ctx, T0, T0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(orphans) != 1 || orphans[0].Kind != analytics.OrphanUnknown || orphans[0].Visits != 1 || orphans[0].Hour != T0.Unix() {
			t.Errorf("orphans = %+v", orphans)
		}

		vs, err := s.Visits(ctx, 10, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 3 {
			t.Fatalf("%d visits, want 3", len(vs))
		}
		// Newest first: clicks 89 (curl), 88 (iPhone), 87 (Chrome).
		v := vs[2]
		if v.At != T0.Add(87*time.Minute).UnixNano() || v.Referrer != "news.example.com" || v.Bot ||
			v.Addr != netip.MustParseAddr("198.51.100.0") || v.Language != "en-us" ||
			v.UserAgent.Value != Chrome || v.UserAgent.Browser != "Chrome" || v.UserAgent.Device != "desktop" {
			t.Errorf("visit = %+v", v)
		}
		if !vs[0].Bot || vs[0].UserAgent.Value != Curl || !vs[0].UserAgent.Bot {
			t.Errorf("curl's visit = %+v", vs[0])
		}
	})

	t.Run("SameDeltaTwice", func(t *testing.T) {
		s := open(t)
		a := analytics.NewAggregator(analytics.AggregatorOptions{Visits: true})
		a.Add(Batch(1, 20, 10))
		d := a.Delta()
		if err := s.Apply(t.Context(), d); err != nil {
			t.Fatal(err)
		}
		err := s.Apply(t.Context(), d)
		var ae *analytics.AppliedError
		if !errors.As(err, &ae) || len(ae.Batches) != 1 || ae.Batches[0] != (analytics.BatchID{Producer: 1, Seq: 1}) {
			t.Fatalf("second Apply = %v, want an AppliedError naming batch 1/1", err)
		}
		CheckTotal(t, s, 20, Humans(10), Bots(10))
		if vs, _ := s.Visits(t.Context(), 20, 100); len(vs) != 10 {
			t.Errorf("%d visits, want 10", len(vs))
		}
	})

	t.Run("RedeliveredAmongNew", func(t *testing.T) {
		s := open(t)
		p := processor(t, s)
		ctx := t.Context()
		if err := p.Process(ctx, []*analytics.Batch{Batch(1, 30, 6)}); err != nil {
			t.Fatal(err)
		}
		// Batch 1 again, with 2 and 3 new: only the new ones count.
		if err := p.Process(ctx, []*analytics.Batch{Batch(2, 30, 6), Batch(1, 30, 6), Batch(3, 30, 6)}); err != nil {
			t.Fatal(err)
		}
		CheckTotal(t, s, 30, 3*Humans(6), 3*Bots(6))
		if err := p.Process(ctx, []*analytics.Batch{Batch(3, 30, 6), Batch(1, 30, 6)}); err != nil {
			t.Fatal(err)
		}
		CheckTotal(t, s, 30, 3*Humans(6), 3*Bots(6))
		// A batch published twice (a retried publish) and read in one go.
		if err := p.Process(ctx, []*analytics.Batch{Batch(4, 30, 6), Batch(4, 30, 6)}); err != nil {
			t.Fatal(err)
		}
		CheckTotal(t, s, 30, 4*Humans(6), 4*Bots(6))
	})

	t.Run("ConcurrentWriters", func(t *testing.T) {
		s := open(t)
		// Four writers apply overlapping sets of twenty batches over the
		// same links, in different orders: every batch counts once, and
		// no writer deadlocks another.
		const batches, writers = 20, 4
		batch := func(seq uint64) *analytics.Batch { return Batch(seq, 40+int64(seq%3), 9) }
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := processor(t, s)
				for i := range batches {
					seq := uint64((i+w*5)%batches + 1)
					bs := []*analytics.Batch{batch(seq), batch(seq%batches + 1)}
					if err := p.Process(t.Context(), bs); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var humans, bots int64
		for link := int64(40); link < 43; link++ {
			tot, err := s.Total(t.Context(), link)
			if err != nil {
				t.Fatal(err)
			}
			humans += tot.Humans
			bots += tot.Bots
		}
		if humans != batches*Humans(9) || bots != batches*Bots(9) {
			t.Errorf("%d humans, %d bots over the links; want %d, %d", humans, bots, batches*Humans(9), batches*Bots(9))
		}
	})
}

// RunRetention checks that Expire deletes the hourly and daily counts
// older than RollupRetention, by links far apart (more than one range of
// links), keeps the hours and days partly inside it and the totals of all
// time, and keeps every count without a retention. open returns an
// empty, migrated store with opts.
func RunRetention(t *testing.T, open func(t *testing.T, opts analytics.SinkOptions) ExpiringStore) {
	now := T0.Add(4*24*time.Hour + 30*time.Minute)
	clock := func() time.Time { return now }
	far := int64(10 + 2*analytics.RollupLinkChunk + 5)
	// Old clicks on two links, clicks in the hour the cutoff falls in, and
	// recent ones.
	fill := func(t *testing.T, s ExpiringStore) {
		t.Helper()
		err := processor(t, s).Process(t.Context(), []*analytics.Batch{
			BatchAt(1, 10, 90, T0), BatchAt(2, far, 30, T0),
			BatchAt(3, 10, 15, T0.Add(24*time.Hour)), BatchAt(4, 10, 30, now.Add(-2*time.Hour)),
			BatchAt(5, far, 30, now.Add(-2*time.Hour)),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	hours := func(t *testing.T, s ExpiringStore, link int64) []int64 {
		t.Helper()
		hs, err := s.Hourly(t.Context(), link, T0.Add(-24*time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, h := range hs {
			out = append(out, (h.Hour-T0.Unix())/3600)
		}
		return out
	}
	devices := func(t *testing.T, s ExpiringStore, link int64, from, to time.Time) int64 {
		t.Helper()
		ds, err := breakdown(t.Context(), s, link, analytics.DimDevice, from, to)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, d := range ds {
			n += d.Humans + d.Bots
		}
		return n
	}
	orphans := func(t *testing.T, s ExpiringStore) int {
		t.Helper()
		counts, err := s.Orphans(t.Context(), T0.Add(-24*time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return len(counts)
	}

	t.Run("Expired", func(t *testing.T) {
		s := open(t, analytics.SinkOptions{RollupRetention: 4 * 24 * time.Hour, Now: clock})
		fill(t, s)
		// Hours from T0: the old clicks' 0 and 1, the cutoff's 24, the
		// recent ones' 94 (now - 2h is T0 + 94 h 30 min).
		if got := fmt.Sprint(hours(t, s, 10)); got != "[0 1 24 94]" {
			t.Fatalf("hours before Expire: %s", got)
		}
		if n := devices(t, s, far, T0, T0); n == 0 {
			t.Fatalf("link %d: no clicks on T0's day before Expire", far)
		}
		// Keeping 4 days now keeps everything: nothing is wholly older.
		if err := s.Expire(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(hours(t, s, 10)); got != "[0 1 24 94]" {
			t.Fatalf("hours after an Expire that has nothing to delete: %s", got)
		}

		s = open(t, analytics.SinkOptions{RollupRetention: 3 * 24 * time.Hour, Now: clock})
		fill(t, s)
		if err := s.Expire(t.Context()); err != nil {
			t.Fatal(err)
		}
		// The cutoff is T0 + 1 day + 30 minutes: hours 0 and 1 go, hour
		// 24 (partly inside) stays, as do the recent ones.
		if got := fmt.Sprint(hours(t, s, 10)); got != "[24 94]" {
			t.Errorf("link 10's hours after Expire: %s, want [24 94]", got)
		}
		if got := fmt.Sprint(hours(t, s, far)); got != "[94]" {
			t.Errorf("link %d's hours after Expire: %s, want [94]", far, got)
		}
		// T0's day is wholly older than the cutoff; the day after is not.
		for _, link := range []int64{10, far} {
			if n := devices(t, s, link, T0, T0); n != 0 {
				t.Errorf("link %d: %d clicks on T0's day after Expire, want 0", link, n)
			}
			if n := devices(t, s, link, now.Add(-3*time.Hour), now); n != 30 {
				t.Errorf("link %d: %d clicks in the last days after Expire, want 30", link, n)
			}
		}
		// Orphan visits: T0's hour goes; T0 + 1 day's and the recent stay.
		if n := orphans(t, s); n != 2 {
			t.Errorf("%d hours of orphan visits after Expire, want 2", n)
		}
		// The totals of all time stay.
		CheckTotal(t, s, 10, Humans(90)+Humans(15)+Humans(30), Bots(90)+Bots(15)+Bots(30))
		CheckTotal(t, s, far, Humans(30)+Humans(30), Bots(30)+Bots(30))
	})

	t.Run("KeptForEver", func(t *testing.T) {
		s := open(t, analytics.SinkOptions{Now: clock})
		fill(t, s)
		if err := s.Expire(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(hours(t, s, 10)); got != "[0 1 24 94]" {
			t.Errorf("hours after Expire without a retention: %s", got)
		}
		if n := orphans(t, s); n != 3 {
			t.Errorf("%d hours of orphan visits after Expire without a retention, want 3", n)
		}
	})
}

// breakdown reads the one breakdown of dim.
func breakdown(ctx context.Context, s analytics.Stats, link int64, dim analytics.Dimension, from, to time.Time) ([]analytics.DailyCount, error) {
	bs, err := s.Breakdowns(ctx, link, []analytics.Dimension{dim}, from, to)
	if err == nil && len(bs) != 1 {
		err = fmt.Errorf("breakdowns of %s = %+v, want it alone", dim, bs)
	}
	return bs[dim], err
}
