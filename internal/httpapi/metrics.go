package httpapi

import (
	"errors"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortlinks/shortlinks/internal/link"
)

type metrics struct {
	latency     *prometheus.HistogramVec
	requests    *prometheus.CounterVec
	redirects   prometheus.Counter
	redirectErr *prometheus.CounterVec
	created     prometheus.Counter
	rateLimited prometheus.Counter
	panics      prometheus.Counter

	// byRoute holds the series of each route and status seen so far, so
	// that a request costs one map lookup rather than hashing its labels
	// twice and formatting its status. Routes are patterns and statuses
	// are three digits, so the map stays small. It is copied on write:
	// readers never lock.
	byRoute atomic.Pointer[map[routeStatus]routeSeries]
	curryMu sync.Mutex
}

type routeStatus struct {
	route  string
	status int
}

type routeSeries struct {
	created  prometheus.Counter // set for a create route's 201: a link was made
	latency  prometheus.Observer
	requests prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shortlinks_http_request_duration_seconds",
			Help: "Request latency by route pattern.",
			// Fine at the low end, where redirects fall, with bounds at the
			// 1 ms and 2 ms redirect latency targets.
			Buckets: []float64{.00005, .0001, .00025, .0005, .00075, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shortlinks_http_requests_total",
			Help: "Requests by route pattern and status code.",
		}, []string{"route", "status"}),
		redirects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_redirects_total",
			Help: "Redirects served.",
		}),
		redirectErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shortlinks_redirect_failures_total",
			Help: "Redirect requests that did not redirect, by reason.",
		}, []string{"reason"}),
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_links_created_total",
			Help: "Links created through the API and the web page.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_rate_limited_total",
			Help: "Requests refused by the rate limiter.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_http_panics_total",
			Help: "Handler panics recovered.",
		}),
	}
	reg.MustRegister(m.latency, m.requests, m.redirects, m.redirectErr, m.created, m.rateLimited, m.panics)
	m.byRoute.Store(&map[routeStatus]routeSeries{})
	return m
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	k := routeStatus{route, status}
	rs, ok := (*m.byRoute.Load())[k]
	if !ok {
		rs = m.series(k)
	}
	rs.latency.Observe(d.Seconds())
	rs.requests.Inc()
	if rs.created != nil {
		rs.created.Inc()
	}
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
		latency:  m.latency.WithLabelValues(k.route),
		requests: m.requests.WithLabelValues(k.route, strconv.Itoa(k.status)),
	}
	// Links are counted where every front end's answers pass: the API
	// and the web form both answer 201 exactly when they made a link.
	if k.status == http.StatusCreated && (k.route == createRoute || k.route == pageCreateRoute) {
		rs.created = m.created
	}
	next := maps.Clone(old)
	next[k] = rs
	m.byRoute.Store(&next)
	return rs
}

func (m *metrics) redirectFailed(err error) {
	reason := "error"
	switch {
	case errors.Is(err, link.ErrNotFound):
		reason = "not_found"
	case errors.Is(err, link.ErrExpired):
		reason = "expired"
	case errors.Is(err, link.ErrUnavailable):
		reason = "unavailable"
	}
	m.redirectErr.WithLabelValues(reason).Inc()
}
