package httpapi

import (
	"errors"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortlinks/shortlinks/internal/link"
)

// Outcomes of a redirect request: the tier that answered, or why there was
// no redirect.
var redirectOutcomes = [...]string{
	link.FromLocalCache:  "cache_local",
	link.FromSharedCache: "cache_redis",
	link.FromStore:       "database",
}

// Outcomes of a create request, from its status.
const (
	createOK           = "ok"
	createInvalid      = "invalid"
	createAliasTaken   = "alias_taken"
	createRateLimited  = "rate_limited"
	createUnauthorized = "unauthorized"
	createError        = "error"
)

type metrics struct {
	latency     *prometheus.HistogramVec
	requests    *prometheus.CounterVec
	redirects   *prometheus.CounterVec
	creates     *prometheus.CounterVec
	rateLimited prometheus.Counter
	panics      prometheus.Counter

	// Redirect counters, curried once: served by source, and failures.
	served                                   [len(redirectOutcomes)]prometheus.Counter
	notFound, expired, unavailable, failures prometheus.Counter

	// byRoute holds the series of each route, method and status seen so
	// far, so that a request costs one map lookup rather than hashing its
	// labels twice. Routes are patterns, methods a fixed set and statuses
	// three digits, so the map stays small. It is copied on write: readers
	// never lock.
	byRoute atomic.Pointer[map[routeStatus]routeSeries]
	curryMu sync.Mutex
}

type routeStatus struct {
	route  string
	method string
	status int
}

type routeSeries struct {
	create   prometheus.Counter // set for a create route: the outcome this status means
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
		redirects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shortlinks_redirects_total",
			Help: "Redirect requests by outcome: the tier that served the link (cache_local, cache_redis, database), or not_found, expired, unavailable, error.",
		}, []string{"outcome"}),
		creates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shortlinks_creates_total",
			Help: "Create requests through the API and the web page by outcome: ok, invalid, alias_taken, rate_limited, unauthorized, error.",
		}, []string{"outcome"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_rate_limited_total",
			Help: "Requests refused by the rate limiter.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_http_panics_total",
			Help: "Handler panics recovered.",
		}),
	}
	reg.MustRegister(m.latency, m.requests, m.redirects, m.creates, m.rateLimited, m.panics)
	// Every outcome is exported from the start, at zero, so that rates and
	// alerts over them have a series before the first such request.
	for src, name := range redirectOutcomes {
		m.served[src] = m.redirects.WithLabelValues(name)
	}
	m.notFound = m.redirects.WithLabelValues("not_found")
	m.expired = m.redirects.WithLabelValues("expired")
	m.unavailable = m.redirects.WithLabelValues("unavailable")
	m.failures = m.redirects.WithLabelValues("error")
	for _, o := range []string{createOK, createInvalid, createAliasTaken, createRateLimited, createUnauthorized, createError} {
		m.creates.WithLabelValues(o)
	}
	m.byRoute.Store(&map[routeStatus]routeSeries{})
	return m
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	k := routeStatus{route, method, status}
	rs, ok := (*m.byRoute.Load())[k]
	if !ok {
		rs = m.series(k)
	}
	rs.latency.Observe(d.Seconds())
	rs.requests.Inc()
	if rs.create != nil {
		rs.create.Inc()
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
	method := k.method
	if !knownMethods[method] {
		method = "OTHER" // any token is a method: keep the label set bounded
	}
	rs := routeSeries{
		latency:  m.latency.WithLabelValues(k.route, method),
		requests: m.requests.WithLabelValues(k.route, method, statusClass(k.status)),
	}
	// Creates are counted where every front end's answers pass: the API
	// and the web form both answer with the same statuses.
	if k.route == createRoute || k.route == pageCreateRoute {
		rs.create = m.creates.WithLabelValues(createOutcome(k.status))
	}
	next := maps.Clone(old)
	next[k] = rs
	m.byRoute.Store(&next)
	return rs
}

var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
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

func createOutcome(status int) string {
	switch {
	case status == http.StatusCreated:
		return createOK
	case status == http.StatusConflict:
		return createAliasTaken
	case status == http.StatusTooManyRequests:
		return createRateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return createUnauthorized
	case status >= 400 && status < 500:
		return createInvalid
	}
	return createError
}

// redirected counts a redirect served from src.
func (m *metrics) redirected(src link.Source) {
	if int(src) < len(m.served) {
		m.served[src].Inc()
	}
}

func (m *metrics) redirectFailed(err error) {
	switch {
	case errors.Is(err, link.ErrNotFound):
		m.notFound.Inc()
	case errors.Is(err, link.ErrExpired):
		m.expired.Inc()
	case errors.Is(err, link.ErrUnavailable):
		m.unavailable.Inc()
	default:
		m.failures.Inc()
	}
}
