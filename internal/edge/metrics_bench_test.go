package edge

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The cached series must count exactly what WithLabelValues would, and
// create a series only when a route, method and status are first seen.
func TestObserveSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	if got := gather(t, reg); len(got) != 0 {
		t.Fatalf("series before any request: %v", got)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				status := 302
				if i%10 == 0 {
					status = 404 + g%2
				}
				m.observe("GET /{code}", "GET", status, time.Duration(i)*time.Microsecond)
			}
		})
	}
	wg.Wait()
	m.observe("", "BREW", 404, time.Millisecond)
	m.observe("", "PATCH", 405, time.Millisecond)

	want := map[string]float64{
		// 302s and 404/405s, by status class; methods outside the
		// standard set share one label value.
		"requests GET /{code} GET 3xx": 3600, "requests GET /{code} GET 4xx": 400,
		"requests unmatched OTHER 4xx": 1, "requests unmatched PATCH 4xx": 1,
		"latency GET /{code} GET": 4000, "latency unmatched OTHER": 1, "latency unmatched PATCH": 1,
	}
	got := gather(t, reg)
	if len(got) != len(want) {
		t.Errorf("series = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

// gather returns the request counters and latency sample counts in reg.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			byName := map[string]string{}
			for _, l := range mt.GetLabel() {
				byName[l.GetName()] = l.GetValue()
			}
			var labels []string
			for _, name := range []string{"route", "method", "status"} {
				if v, ok := byName[name]; ok {
					labels = append(labels, v)
				}
			}
			switch f.GetName() {
			case "shortlinks_http_requests_total":
				out["requests "+strings.Join(labels, " ")] = mt.GetCounter().GetValue()
			case "shortlinks_http_request_duration_seconds":
				out["latency "+strings.Join(labels, " ")] = float64(mt.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// BenchmarkObserve is what the metrics middleware costs a request.
func BenchmarkObserve(b *testing.B) {
	m := newMetrics(prometheus.NewRegistry())
	b.ReportAllocs()
	for b.Loop() {
		m.observe("GET /{code}", "GET", 302, 250*time.Microsecond)
	}
}

// BenchmarkObserveWithLabelValues is the baseline for BenchmarkObserve:
// looking both series up by their labels on every request.
func BenchmarkObserveWithLabelValues(b *testing.B) {
	m := newMetrics(prometheus.NewRegistry())
	b.ReportAllocs()
	for b.Loop() {
		m.latency.WithLabelValues("GET /{code}", "GET").Observe((250 * time.Microsecond).Seconds())
		m.requests.WithLabelValues("GET /{code}", "GET", statusClass(302)).Inc()
	}
}
