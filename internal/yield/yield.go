// Package yield lets long stretches of background work hand the core back
// to the request goroutines every so often.
//
// Go preempts a goroutine that has run for 10 ms, and on a server with
// one core (GOMAXPROCS=1) every redirect that arrives meanwhile waits for
// it: the analytics writer's sorts, merges and SQLite statements ran in
// stretches of 10 to 19 ms, which set the redirects' p99 at saturation.
// Work that yields every Batch items (a fraction of a millisecond) costs
// the same CPU and lets the redirects in between.
//
// With more than one P nothing yields: the other Ps serve the redirects,
// and a goroutine that yields with a P idle tends to move to another
// thread and core, which cost the writer 15-20 % more CPU per click in
// BenchmarkWriter with two Ps (and nothing with one).
package yield

import (
	"runtime"
	"slices"
)

// Batch is how many items of work go between two yields: well under a
// millisecond of counting, merging or encoding on a slow core.
const Batch = 1024

// Every yields after every Batch-th item: call it with a count that goes
// up by one an item (a loop's index), so that none is skipped.
func Every(i int) {
	if i%Batch == Batch-1 {
		Now()
	}
}

// Now yields if the goroutines run on one P.
func Now() {
	if alone() {
		runtime.Gosched()
	}
}

// alone reports whether the goroutines run on one P. GOMAXPROCS can
// change while the process runs (Go follows a container's CPU limit), so
// it is asked each time: a lock, once a batch.
func alone() bool { return runtime.GOMAXPROCS(0) == 1 }

// run is the length of the runs SortFunc sorts before merging them: a
// few hundred microseconds of sorting.
const run = 4096

// SortFunc sorts s by cmp, yielding every Batch items it merges: runs of
// 4,096 items sorted by slices.SortFunc, then merged into *buf and back (*buf is
// grown to len(s) and kept for the next call, its elements zeroed so that
// they keep nothing alive). Like slices.SortFunc it is not stable. With
// more than one P it is slices.SortFunc, which is 1.2 times faster.
func SortFunc[E any](s []E, buf *[]E, cmp func(a, b E) int) {
	n := len(s)
	if n <= run || !alone() {
		slices.SortFunc(s, cmp)
		return
	}
	for i := 0; i < n; i += run {
		slices.SortFunc(s[i:min(i+run, n)], cmp)
		Now()
	}
	*buf = slices.Grow((*buf)[:0], n)[:n]
	src, dst := s, *buf
	moved := 0
	for width := run; width < n; width *= 2 {
		for lo := 0; lo < n; lo += 2 * width {
			mid, hi := min(lo+width, n), min(lo+2*width, n)
			moved = merge(dst[lo:hi], src[lo:mid], src[mid:hi], cmp, moved)
		}
		src, dst = dst, src
	}
	if &src[0] != &s[0] {
		copy(s, src)
	}
	clear(*buf)
}

// merge merges a and b into dst, taking from a on ties; moved counts the
// items moved since the last yield, and is returned updated.
func merge[E any](dst, a, b []E, cmp func(a, b E) int, moved int) int {
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		if cmp(b[j], a[i]) < 0 {
			dst[k] = b[j]
			j++
		} else {
			dst[k] = a[i]
			i++
		}
		k++
		if moved++; moved == Batch {
			moved = 0
			Now()
		}
	}
	k += copy(dst[k:], a[i:])
	copy(dst[k:], b[j:])
	return moved
}
