package edge

import (
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	latency  *prometheus.HistogramVec
	requests *prometheus.CounterVec
	panics   prometheus.Counter

	// byRoute holds the series of each route, method and status seen so
	// far, so that a request costs one map lookup rather than hashing its
	// labels twice. Every part of the key comes from a bounded set, whatever
	// clients send: routes are the table's patterns, methods are folded
	// into eight names (methodLabel) before the lookup, and statuses are
	// three digits (net/http refuses any other). It is copied on write:
	// readers never lock.
	byRoute atomic.Pointer[map[routeStatus]routeSeries]
	curryMu sync.Mutex
}

type routeStatus struct {
	route  string
	method string
	status int
}

type routeSeries struct {
	latency  prometheus.Observer
	requests prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shortlinks_http_request_duration_seconds",
			Help: "Request latency by route pattern and method.",
			// Fine at the low end, where redirects fall, with bounds at the
			// 1 ms and 2 ms redirect latency targets.
			Buckets: []float64{.00005, .0001, .00025, .0005, .00075, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shortlinks_http_requests_total",
			Help: "Requests by route pattern, method and status class (2xx, 3xx, 4xx, 5xx).",
		}, []string{"route", "method", "status"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_http_panics_total",
			Help: "Handler panics recovered.",
		}),
	}
	reg.MustRegister(m.latency, m.requests, m.panics)
	m.byRoute.Store(&map[routeStatus]routeSeries{})
	return m
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	k := routeStatus{route, methodLabel(method), status}
	rs, ok := (*m.byRoute.Load())[k]
	if !ok {
		rs = m.series(k)
	}
	rs.latency.Observe(d.Seconds())
	rs.requests.Inc()
}

// series makes (or finds) the series for k and adds them to byRoute.
func (m *metrics) series(k routeStatus) routeSeries {
	m.curryMu.Lock()
	defer m.curryMu.Unlock()
	old := *m.byRoute.Load()
	if rs, ok := old[k]; ok {
		return rs
	}
	rs := routeSeries{
		latency:  m.latency.WithLabelValues(k.route, k.method),
		requests: m.requests.WithLabelValues(k.route, k.method, statusClass(k.status)),
	}
	next := maps.Clone(old)
	next[k] = rs
	m.byRoute.Store(&next)
	return rs
}

// methods are the methods labelled by name.
var methods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// methodLabel is method as a label and series key: one of methods, or
// OTHER for the rest. Any token is a method, so a client could otherwise
// grow the label set and the series map without bound. It returns the
// constant, never method itself, so that a key does not keep a request's
// memory alive.
func methodLabel(method string) string {
	if method == http.MethodGet { // the redirect's: one comparison
		return http.MethodGet
	}
	for _, m := range methods {
		if method == m {
			return m
		}
	}
	return "OTHER"
}

func statusClass(status int) string {
	switch {
	case status >= 500:
		return "5xx"
	case status >= 400:
		return "4xx"
	case status >= 300:
		return "3xx"
	case status >= 200:
		return "2xx"
	}
	return "1xx"
}
