package yield

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
)

type item struct{ key, seq int }

func byKey(a, b item) int { return cmp.Compare(a.key, b.key) }

func byKeySeq(a, b item) int { return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.seq, b.seq)) }

// TestSortFunc sorts on one P (the merge sort) and on two (slices.SortFunc).
func TestSortFunc(t *testing.T) {
	for _, procs := range []int{1, 2} {
		t.Run(fmt.Sprint(procs, "P"), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			testSortFunc(t)
		})
	}
}

func testSortFunc(t *testing.T) {
	var buf []item
	for _, n := range []int{0, 1, 2, run - 1, run, run + 1, 3*run + 7, Batch, 5*Batch + 13, 100_000} {
		for _, keys := range []int{1, 7, n + 1} {
			s := make([]item, n)
			for i := range s {
				s[i] = item{key: rand.IntN(keys), seq: i}
			}
			want := slices.Clone(s)
			slices.SortFunc(want, byKeySeq)
			// Sorted by key, and the same items.
			SortFunc(s, &buf, byKey)
			if !slices.IsSortedFunc(s, byKey) {
				t.Fatalf("n=%d keys=%d: not sorted", n, keys)
			}
			if slices.SortFunc(s, byKeySeq); !slices.Equal(s, want) {
				t.Fatalf("n=%d keys=%d: items lost or repeated", n, keys)
			}
			if slices.ContainsFunc(buf, func(x item) bool { return x != item{} }) {
				t.Fatalf("n=%d keys=%d: the buffer keeps items", n, keys)
			}
		}
	}
}

// TestSortFuncYields sorts on one P while another goroutine is ready to
// run: it must run before the sort ends, long before Go would preempt the
// sort (10 ms).
func TestSortFuncYields(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	s := make([]int, 20*Batch)
	for i := range s {
		s[i] = rand.Int()
	}
	var ran, seen atomic.Bool
	go ran.Store(true)
	var buf []int
	SortFunc(s, &buf, func(a, b int) int {
		if ran.Load() {
			seen.Store(true)
		}
		return cmp.Compare(a, b)
	})
	if !seen.Load() {
		t.Fatal("a ready goroutine did not run while the sort ran")
	}
	if !slices.IsSorted(s) {
		t.Fatal("not sorted")
	}
}

func TestEveryYields(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var ran atomic.Bool
	go ran.Store(true)
	for i := range Batch {
		Every(i)
	}
	if !ran.Load() {
		t.Fatal("a ready goroutine did not run within a batch")
	}
}

func BenchmarkSortFunc(b *testing.B) {
	src := make([]item, 80_000)
	for i := range src {
		src[i] = item{key: rand.IntN(100_000), seq: i}
	}
	s := make([]item, len(src))
	var buf []item
	b.Run("yield", func(b *testing.B) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		for b.Loop() {
			copy(s, src)
			SortFunc(s, &buf, byKey)
		}
	})
	b.Run("slices", func(b *testing.B) {
		for b.Loop() {
			copy(s, src)
			slices.SortFunc(s, byKey)
		}
	})
}
