package sqlitesink_test

import (
	"math/rand/v2"
	"net/netip"
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
//
// It uses only what every version of the sink has, so that the same file
// runs against an older commit in the same session: cpu-µs/click is the
// figure to compare, as a ratio of the two runs.
func BenchmarkWriter(b *testing.B) {
	const links, perFlush = 100_000, 5000
	for _, traffic := range []string{"bench", "browsers"} {
		b.Run(traffic, func(b *testing.B) {
			s := sqlitesink.New(openDB(b), sqlitesink.Options{})
			p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
			if err != nil {
				b.Fatal(err)
			}
			zipf := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, links-1)
			start := time.Now().Truncate(time.Hour).Add(-time.Hour)
			var batches []*analytics.Batch
			for i := range 16 {
				bt := sinktest.Batch(uint64(i+1), 0, perFlush)
				bt.Events = bt.Events[:perFlush]
				for j := range bt.Events {
					e := &bt.Events[j]
					e.LinkID = int64(zipf.Uint64() + 1)
					e.Addr = netip.AddrFrom4([4]byte{198, 51, byte(j >> 8), byte(j)}).As16()
					if traffic == "bench" {
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
