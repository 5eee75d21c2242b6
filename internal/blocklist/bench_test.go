package blocklist_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/blocklist"
)

const benchEntries = 1_000_000

// benchDomain is the i-th domain of the benchmark list.
func benchDomain(i int) string { return fmt.Sprintf("d%07d-x.example%d.com", i, i%97) }

// writeBenchList writes a hosts file of benchEntries domains.
func writeBenchList(b *testing.B) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "big.hosts")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range benchEntries {
		fmt.Fprintf(w, "0.0.0.0 %s\n", benchDomain(i))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMatch matches URLs against a list of a million domains: a URL
// whose parent domain is listed, and one whose host has no listed suffix.
// The baseline is the same walk over a map keyed by the domains' text.
func BenchmarkMatch(b *testing.B) {
	path := writeBenchList(b)
	l, err := blocklist.Open([]blocklist.Source{{Path: path}}, blocklist.Options{})
	if err != nil {
		b.Fatal(err)
	}
	m := l.Current()
	hit := "https://www.cdn." + benchDomain(123456) + "/assets/app.js?v=3"
	miss := "https://www.cdn.d0123456-y.example7.com/assets/app.js?v=3"
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := m.Match(hit); !ok {
				b.Fatal("no match")
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := m.Match(miss); ok {
				b.Fatal("match")
			}
		}
	})

	base := make(map[string]uint64, benchEntries)
	for i := range benchEntries {
		base[benchDomain(i)] = 1
	}
	lookup := func(u string) bool {
		h := strings.TrimPrefix(u, "https://")
		h = h[:strings.IndexByte(h, '/')]
		for {
			if base[h] != 0 {
				return true
			}
			i := strings.IndexByte(h, '.')
			if i < 0 {
				return false
			}
			h = h[i+1:]
		}
	}
	b.Run("baseline string map hit", func(b *testing.B) {
		for b.Loop() {
			if !lookup(hit) {
				b.Fatal("no match")
			}
		}
	})
	b.Run("baseline string map miss", func(b *testing.B) {
		for b.Loop() {
			if lookup(miss) {
				b.Fatal("match")
			}
		}
	})
}

// BenchmarkMatcherMemory loads a list of a million domains and reports the
// heap it keeps (bytes per entry), beside the baseline of a map keyed by the
// domains' text. ns/op is the time to read and index the file.
func BenchmarkMatcherMemory(b *testing.B) {
	path := writeBenchList(b)
	b.Run("Lists", func(b *testing.B) {
		for b.Loop() {
			before := heapInUse()
			l, err := blocklist.Open([]blocklist.Source{{Path: path}}, blocklist.Options{})
			if err != nil {
				b.Fatal(err)
			}
			after := heapInUse()
			b.ReportMetric(float64(after-before)/benchEntries, "bytes/entry")
			runtime.KeepAlive(l)
		}
	})
	b.Run("baseline string map", func(b *testing.B) {
		for b.Loop() {
			before := heapInUse()
			base := make(map[string]uint64)
			for i := range benchEntries {
				base[benchDomain(i)] = 1
			}
			after := heapInUse()
			b.ReportMetric(float64(after-before)/benchEntries, "bytes/entry")
			runtime.KeepAlive(base)
		}
	})
}
