package edge_test

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortlinks/shortlinks/internal/edge"
)

// tokenChars are the characters of an HTTP token, which is all a method
// has to be.
const tokenChars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// TestRandomMethodsDoNotGrowMemory sends 10,000 requests with made-up
// methods, 256 bytes each, which a client may send as it likes: the edge's
// metrics must fold them into one series and keep none of them, so the
// heap grows by less than 2 MiB. (Keyed on the raw method, the series map
// kept every one, with the request line it was cut from: 4 MiB here, and
// growing with every new method.)
func TestRandomMethodsDoNotGrowMemory(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := edge.New(slog.New(slog.DiscardHandler), edge.Options{LogRequests: "none", Registerer: reg}).
		Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusMethodNotAllowed) }))
	rng := rand.New(rand.NewPCG(1, 2))
	method := func() string {
		b := make([]byte, 256)
		for i := range b {
			b[i] = tokenChars[rng.IntN(len(tokenChars))]
		}
		return string(b)
	}
	// Warm up: the series of the folded method exist from here on.
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method(), "/", nil))

	before := heapInUse()
	for range 10_000 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method(), "/", nil))
	}
	after := heapInUse()
	if grown := int64(after) - int64(before); grown > 2<<20 {
		t.Errorf("10,000 made-up methods grew the heap by %.1f MiB, want under 2 MiB", float64(grown)/(1<<20))
	}

	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "shortlinks_http_requests_total" {
			continue
		}
		if n := len(f.GetMetric()); n != 1 {
			t.Fatalf("%d request series, want 1 for every made-up method", n)
		}
		m := f.GetMetric()[0]
		for _, l := range m.GetLabel() {
			if l.GetName() == "method" && l.GetValue() != "OTHER" {
				t.Errorf("method label %.20q..., want OTHER", l.GetValue())
			}
		}
		if got := m.GetCounter().GetValue(); got != 10_001 {
			t.Errorf("counted %v requests, want 10001", got)
		}
	}
}

// heapInUse is the heap a full collection finds live.
func heapInUse() uint64 {
	runtime.GC()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	return live[0].Value.Uint64()
}
