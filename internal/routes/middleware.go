package routes

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/ratelimit"
)

// Limiter rations actions per client.
type Limiter interface {
	Allow(ctx context.Context, key string) (ratelimit.Decision, error)
}

// DefaultBodyTimeout bounds how long a client may take to send a request
// body.
const DefaultBodyTimeout = 15 * time.Second

// readsBody gives a handler that reads a request body a deadline for it.
// The HTTP server sets no read timeout of its own (only one for headers),
// so that requests without a body, redirects above all, arm no timer.
func (t *Table) readsBody(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An error means the connection takes no deadlines (it is not a
		// plain HTTP/1 connection); the body is still size-limited.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(t.bodyTimeout))
		next(w, r)
	})
}

// limitCreates rations link creation per client, through the API and the
// form alike.
func (t *Table) limitCreates(next http.Handler) http.Handler {
	return t.limit(t.limiter, "create:", next)
}

// limit rations what next does per client with l, keeping each action's
// budgets apart by prefix. Clients are keyed as ratelimit.ClientKey says:
// IPv6 ones by their prefix.
func (t *Table) limit(l Limiter, prefix string, next http.Handler) http.Handler {
	return t.limitWith(t.errs.Fail, l, prefix, next)
}

// limitCreatesWith is limitCreates for a front end that answers a refusal
// its own way (a compatible API).
func (t *Table) limitCreatesWith(fail func(http.ResponseWriter, *http.Request, error), next http.Handler) http.Handler {
	return t.limitWith(fail, t.limiter, "create:", next)
}

// limitWith is limit answering a refusal with fail.
func (t *Table) limitWith(fail func(http.ResponseWriter, *http.Request, error), l Limiter, prefix string, next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := l.Allow(r.Context(), prefix+ratelimit.ClientKey(t.clientIP(r), t.ipv6Prefix))
		if err != nil {
			// A limiter that cannot decide must not stop people using the service.
			t.log.WarnContext(r.Context(), "rate limiter failed; allowing", "err", err)
		} else if !d.Allowed {
			t.metrics.rateLimited.Inc()
			fail(w, r, errRateLimited(d.RetryAfter))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitReports rations abuse reports per client address, through the API
// and the page alike, with a budget of their own.
func (t *Table) limitReports(next http.Handler) http.Handler {
	if t.reports == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := t.reports.Allow(r.Context(), "report:"+t.clientIP(r).String())
		if err != nil {
			t.log.WarnContext(r.Context(), "rate limiter failed; allowing", "err", err)
		} else if !d.Allowed {
			t.metrics.rateLimited.Inc()
			t.errs.Fail(w, r, errRateLimited(d.RetryAfter))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func errRateLimited(retry time.Duration) *edge.Problem {
	secs := max(int(retry.Seconds()+0.999), 1)
	return &edge.Problem{
		Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {strconv.Itoa(secs)}}, Code: "rate_limited",
		Message: "Too many requests from your address; retry in " + strconv.Itoa(secs) + " seconds.",
	}
}

// peerIP is the connection's peer address, for a table without the edge's
// view of proxies.
func peerIP(r *http.Request) netip.Addr { return edge.ClientIP(r, nil) }

// countCreates counts the creates of a front end (the API, the form) by
// the outcome their status says, which both answer alike. It reads the
// status the edge recorded.
func (t *Table) countCreates(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		t.metrics.creates[createOutcome(edge.Status(w))].Inc()
	})
}

// countCompatCreates counts the creates of another shortener's API, which
// answer a create with 200 rather than 201.
func (t *Table) countCompatCreates(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		status := edge.Status(w)
		if status == http.StatusOK {
			status = http.StatusCreated
		}
		t.metrics.creates[createOutcome(status)].Inc()
	})
}

// Outcomes of a create request, from its status.
const (
	createOK = iota
	createInvalid
	createAliasTaken
	createRateLimited
	createUnauthorized
	createError
)

var createOutcomes = [...]string{
	createOK:           "ok",
	createInvalid:      "invalid",
	createAliasTaken:   "alias_taken",
	createRateLimited:  "rate_limited",
	createUnauthorized: "unauthorized",
	createError:        "error",
}

func createOutcome(status int) int {
	switch {
	case status == http.StatusCreated, status == http.StatusSeeOther: // the dashboard goes on to the new link's page
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

type metrics struct {
	creates     [len(createOutcomes)]prometheus.Counter
	rateLimited prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	creates := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shortlinks_creates_total",
		Help: "Create requests through the API and the web page by outcome: ok, invalid, alias_taken, rate_limited, unauthorized, error.",
	}, []string{"outcome"})
	m := &metrics{rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shortlinks_rate_limited_total",
		Help: "Requests refused by the rate limiter.",
	})}
	reg.MustRegister(creates, m.rateLimited)
	// Every outcome is exported from the start, at zero, so that rates and
	// alerts over them have a series before the first such request.
	for i, o := range createOutcomes {
		m.creates[i] = creates.WithLabelValues(o)
	}
	return m
}
