package edge_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/shortlinks/shortlinks/internal/edge"
)

// Each value handed out keeps what it was given, whatever is handed out
// after it, on any goroutine, and cannot be appended into another's.
func TestHeaderValues(t *testing.T) {
	var hv edge.HeaderValues
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var got [][]string
			for i := range 1000 {
				got = append(got, hv.One(fmt.Sprint(g, "-", i)))
			}
			for i, v := range got {
				if len(v) != 1 || cap(v) != 1 || v[0] != fmt.Sprint(g, "-", i) {
					t.Errorf("value %d = %q (cap %d), want [%d-%d]", i, v, cap(v), g, i)
					return
				}
			}
			_ = append(got[0], "more")
			if got[1][0] != fmt.Sprint(g, "-", 1) {
				t.Errorf("appending to one value changed the next: %q", got[1])
			}
		})
	}
	wg.Wait()
}

func TestHeaderValuesAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	var hv edge.HeaderValues
	if n := testing.AllocsPerRun(1000, func() { hv.One("https://example.com/") }); n != 0 {
		t.Errorf("One allocates %v times a call, want 0 (amortized over a block)", n)
	}
}
