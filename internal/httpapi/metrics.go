package httpapi

import (
	"errors"
	"strconv"
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
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shortlinks_http_request_duration_seconds",
			Help:    "Request latency by route pattern.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
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
	return m
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.latency.WithLabelValues(route).Observe(d.Seconds())
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
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
