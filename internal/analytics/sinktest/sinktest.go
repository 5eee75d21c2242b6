// Package sinktest checks an analytics Sink and its Stats against their
// contracts: counts read back as written, each batch counted once however
// often it is applied, and concurrent writers that neither double-count nor
// deadlock. Each engine's tests run it on a scratch database.
package sinktest

import (
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
	b := &analytics.Batch{
		ID:      analytics.BatchID{Producer: 1, Seq: seq},
		Strings: []string{"", Chrome, IPhone, Curl, "https://news.example.com/a", "en-US"},
	}
	for i := range n {
		e := analytics.Event{At: T0.Add(time.Duration(i) * time.Minute).UnixNano(), LinkID: link, Language: 5,
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
	b.Events = append(b.Events, analytics.Event{At: T0.UnixNano(), Kind: analytics.OrphanUnknown})
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

		ref, err := s.Breakdown(ctx, 10, analytics.DimReferrer, T0, T0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ref) != 2 || ref[0].Value != "" || ref[0].Humans != 30 || ref[0].Bots != 30 || ref[1].Value != "news.example.com" || ref[1].Humans != 30 {
			t.Errorf("referrers = %+v", ref)
		}
		// No GeoIP database: no click has a country, so no row was
		// written for one, and every click is the unknown row.
		countries, err := s.Breakdown(ctx, 10, analytics.DimCountry, T0, T0.Add(3*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(countries) != fmt.Sprint([]analytics.DailyCount{{LinkID: 10, Dim: analytics.DimCountry, Humans: Humans(90), Bots: Bots(90)}}) {
			t.Errorf("countries = %+v", countries)
		}
		dev, _ := s.Breakdown(ctx, 10, analytics.DimDevice, T0, T0)
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
