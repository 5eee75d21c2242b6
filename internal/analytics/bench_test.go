package analytics

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mileusna/useragent"
)

//go:noinline
func emptyRecord(c Click) {}

// stringEvent is the alternative to slotEvent that keeps the header strings
// themselves: no copy, but pointers in every slot, and each click keeps
// its request's header strings alive until it is drained.
type stringEvent struct {
	at, link int64
	addr     [16]byte
	domain   uint32
	kind     Kind
	flags    Flags
	ua, ref  string
	lang     string
}

func (e *stringEvent) fill(c *Click, at int64) {
	e.at, e.link, e.domain, e.kind = at, c.LinkID, c.Domain, c.Kind
	e.flags = 0
	if c.NoTrack {
		e.flags = FlagNoTrack
	}
	e.addr = c.Addr.As16()
	e.ua, e.ref, e.lang = c.UserAgent, c.Referer, c.AcceptLanguage
}

// drainInBackground empties r until the benchmark ends, as Run does. At
// the rate a benchmark records (millions a second, not thousands) it must
// drain all the time, yielding between passes, to keep up.
func drainInBackground[T any](b *testing.B, r *ring[T]) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			r.drain(func(*T) bool { return true })
			runtime.Gosched()
		}
	}()
	b.Cleanup(func() { cancel(); <-done })
}

// BenchmarkRecord measures Record under parallel load beside two baselines
// in the same run: a call of an empty function with the same argument, and
// an atomic add on one counter that every goroutine shares (what a single
// shared queue index would cost at best). Every goroutine yields once per
// 64 clicks, as request goroutines do when they wait for the network, so
// that the drainer gets a P; the baselines do the same.
func BenchmarkRecord(b *testing.B) {
	click := testClick
	// cpu-ns/op is the process's CPU time per call, drainer included: on a
	// shared machine the wall clock also counts other jobs' time.
	parallel := func(b *testing.B, record func()) {
		b.ReportAllocs()
		cpu0 := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				record()
				if i%64 == 0 {
					runtime.Gosched()
				}
			}
		})
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	}
	b.Run("baseline-empty-func", func(b *testing.B) {
		parallel(b, func() { emptyRecord(click) })
	})
	b.Run("baseline-shared-atomic", func(b *testing.B) {
		var n atomic.Uint64
		parallel(b, func() { n.Add(1) })
	})
	b.Run("fixed", func(b *testing.B) {
		r := newTestRecorder(b, &collect{}, RecorderOptions{})
		drainInBackground(b, r.ring)
		parallel(b, func() { r.Record(click) })
		b.ReportMetric(float64(r.Dropped())/float64(b.N), "drops/op")
	})
	b.Run("strings", func(b *testing.B) {
		r := newRing[stringEvent](DefaultCapacity, 4*runtime.GOMAXPROCS(0))
		drainInBackground(b, r)
		parallel(b, func() {
			c := click
			if sl, pos := r.reserve(); sl != nil {
				sl.v.fill(&c, c.At.UnixNano())
				commit(sl, pos)
			}
		})
		_, _, dropped := r.stats()
		b.ReportMetric(float64(dropped)/float64(b.N), "drops/op")
	})
}

// BenchmarkRecordSerial measures a click recorded and drained on one
// goroutine, every 1,024 clicks, so that none is dropped: the whole cost of
// a click that is kept, beside an empty function in the same run.
func BenchmarkRecordSerial(b *testing.B) {
	click := testClick
	b.Run("baseline-empty-func", func(b *testing.B) {
		for b.Loop() {
			emptyRecord(click)
		}
	})
	b.Run("fixed", func(b *testing.B) {
		r := newTestRecorder(b, &collect{}, RecorderOptions{})
		for i := 0; b.Loop(); i++ {
			r.Record(click)
			if i%1024 == 0 {
				r.ring.drain(func(*slotEvent) bool { return true })
			}
		}
		if r.Dropped() != 0 {
			b.Fatalf("%d dropped", r.Dropped())
		}
	})
	b.Run("strings", func(b *testing.B) {
		r := newRing[stringEvent](DefaultCapacity, 4*runtime.GOMAXPROCS(0))
		for i := 0; b.Loop(); i++ {
			c := click
			if sl, pos := r.reserve(); sl != nil {
				sl.v.fill(&c, c.At.UnixNano())
				commit(sl, pos)
			}
			if i%1024 == 0 {
				r.drain(func(*stringEvent) bool { return true })
			}
		}
	})
}

// BenchmarkGCWithFullBuffer measures one garbage collection while a buffer
// of DefaultCapacity clicks is full, for the two layouts. Header strings are
// allocated per click, as net/http does per request.
func BenchmarkGCWithFullBuffer(b *testing.B) {
	ua := []byte(testClick.UserAgent)
	ref := []byte(testClick.Referer)
	fillRing := func(put func(c *Click)) {
		for range DefaultCapacity {
			c := testClick
			c.UserAgent, c.Referer = string(ua), string(ref)
			put(&c)
		}
	}
	// scan-kB is what the collector must scan in the heap; it is what
	// grows each cycle's mark work.
	measure := func(b *testing.B) {
		runtime.GC()
		s := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}, {Name: "/gc/heap/live:bytes"}}
		metrics.Read(s)
		b.ResetTimer()
		for b.Loop() {
			runtime.GC()
		}
		b.ReportMetric(float64(s[0].Value.Uint64())/1e3, "scan-kB")
		b.ReportMetric(float64(s[1].Value.Uint64())/1e3, "live-kB")
	}
	b.Run("fixed", func(b *testing.B) {
		r := newRing[slotEvent](DefaultCapacity, 8)
		fillRing(func(c *Click) {
			if sl, pos := r.reserve(); sl != nil {
				sl.v.fill(c, 0)
				commit(sl, pos)
			}
		})
		measure(b)
		runtime.KeepAlive(r)
	})
	b.Run("strings", func(b *testing.B) {
		r := newRing[stringEvent](DefaultCapacity, 8)
		fillRing(func(c *Click) {
			if sl, pos := r.reserve(); sl != nil {
				sl.v.fill(c, 0)
				commit(sl, pos)
			}
		})
		measure(b)
		runtime.KeepAlive(r)
	})
}

// realisticBatches makes batches of clicks as an instance drains them:
// 2,000 links drawn from a Zipf distribution, User-Agents from uaCases
// (browsers weighted up), a handful of referrers, addresses from the GeoIP
// fixture's networks and elsewhere.
func realisticBatches(n, size int) []*Batch {
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 1, 1999)
	var uas []string
	for _, c := range uaCases {
		w := 1
		if !c.bot {
			w = 6
		}
		for range w {
			uas = append(uas, c.ua)
		}
	}
	refs := []string{"", "", "", "https://www.google.com/", "https://t.co/x", "https://news.ycombinator.com/item?id=1", "android-app://com.slack/", "https://l.facebook.com/l.php?u=abc"}
	langs := []string{"en-US,en;q=0.9", "de-DE,de;q=0.9", "fr", ""}
	addrs := []string{"81.2.69.%d", "216.160.83.%d", "198.51.100.%d", "2a02:2e0:3fe:1001::%d"}
	var out []*Batch
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixNano()
	for i := range n {
		rec := &Recorder{ring: newRing[slotEvent](size, 1), now: time.Now}
		for range size {
			at += int64(rng.IntN(100_000))
			rec.Record(Click{
				LinkID:         int64(zipf.Uint64() + 1),
				At:             time.Unix(0, at),
				Addr:           netip.MustParseAddr(fmt.Sprintf(addrs[rng.IntN(len(addrs))], rng.IntN(250)+1)),
				UserAgent:      uas[rng.IntN(len(uas))],
				Referer:        refs[rng.IntN(len(refs))],
				AcceptLanguage: langs[rng.IntN(len(langs))],
			})
		}
		bb := newBuilder()
		bb.start(BatchID{7, uint64(i + 1)}, size)
		rec.ring.drain(func(e *slotEvent) bool { bb.add(e); return true })
		out = append(out, bb.b)
	}
	return out
}

// BenchmarkAggregate measures a worker's CPU per event: enrichment
// (User-Agent through the cache, GeoIP, referrer, anonymization) and
// aggregation into rollups and visit rows, for batches of 4,096 clicks.
// The baseline decodes the same batches, the least a worker does.
func BenchmarkAggregate(b *testing.B) {
	batches := realisticBatches(16, 4096)
	encoded := make([][]byte, len(batches))
	for i, bt := range batches {
		encoded[i] = Encode(nil, bt)
	}
	g, err := OpenGeoIP(writeGeoDB(b, b.TempDir(), "GeoLite2-City"))
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	// events/cpu-s divides by the process's CPU time rather than the wall
	// clock, so that other jobs on a shared machine do not count against
	// the figure; it is the rate one dedicated core would reach.
	var cpu0 time.Duration
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N)*4096/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(b.N)*4096/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
	}
	b.Run("baseline-decode", func(b *testing.B) {
		cpu0 = cpuTime()
		for i := 0; b.Loop(); i++ {
			if _, err := Decode(encoded[i%len(encoded)]); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("aggregate", func(b *testing.B) {
		a := NewAggregator(AggregatorOptions{GeoIP: g, Visits: true})
		b.ReportAllocs()
		cpu0 = cpuTime()
		for i := 0; b.Loop(); i++ {
			a.Reset()
			bt, err := Decode(encoded[i%len(encoded)])
			if err != nil {
				b.Fatal(err)
			}
			a.Add(bt)
			a.Delta()
		}
		report(b)
	})
}

// BenchmarkUserAgent compares the two vetted User-Agent libraries on the
// mix of uaCases, uncached, and our parser (the chosen library plus our bot
// list) beside them.
func BenchmarkUserAgent(b *testing.B) {
	b.Run("mileusna", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			useragent.Parse(uaCases[i%len(uaCases)].ua)
		}
	})
	p := NewUAParser()
	b.Run("medama", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			p.p.Parse(uaCases[i%len(uaCases)].ua)
		}
	})
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			p.Parse(uaCases[i%len(uaCases)].ua)
		}
	})
}

// BenchmarkEncode reports the encoded size of a realistic batch.
func BenchmarkEncode(b *testing.B) {
	bt := realisticBatches(1, 4096)[0]
	var buf []byte
	for b.Loop() {
		buf = Encode(buf[:0], bt)
	}
	b.ReportMetric(float64(len(buf))/4096, "bytes/event")
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
