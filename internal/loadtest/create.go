package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shortlinks/shortlinks/internal/httpapi"
)

// CreateOptions configure CreateLinks.
type CreateOptions struct {
	Server      string
	APIKey      string
	Count       int
	Concurrency int
	ClientAddrs int // as in Options
	RandSeed    uint64
	Timeout     time.Duration
}

// forwarder sends each request as if a proxy passed it on for one of n
// synthetic clients.
type forwarder struct {
	next http.RoundTripper
	n    int
	i    atomic.Uint64
}

func (f *forwarder) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", clientAddr(int(f.i.Add(1)%uint64(f.n))))
	return f.next.RoundTrip(r)
}

// CreateLinks creates o.Count links with synthetic URLs through the
// server's API, as clients would, and returns their codes in the order they
// were made ('shortlinks seed' instead bulk-loads them into the database).
// It stops at the first failure; a 429 answer comes back with advice on
// letting the load generator past the server's rate limit.
func CreateLinks(ctx context.Context, o CreateOptions) ([]string, error) {
	if o.Count <= 0 {
		return nil, nil
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = o.Concurrency
	var rt http.RoundTripper = tr
	if o.ClientAddrs > 0 {
		rt = &forwarder{next: tr, n: min(o.ClientAddrs, MaxClientAddrs)}
	}
	defer tr.CloseIdleConnections()
	c := httpapi.NewClient(o.Server, o.APIKey, &http.Client{Transport: rt, Timeout: o.Timeout})

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	codes := make([]string, o.Count)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range o.Concurrency {
		rng := rand.New(rand.NewPCG(o.RandSeed, uint64(w)))
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(o.Count) || ctx.Err() != nil {
					return
				}
				l, err := c.Create(ctx, httpapi.CreateRequest{URL: SyntheticURL(rng)})
				if err != nil {
					var ae *httpapi.APIError
					if errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
						err = errors.New(rateLimitAdvice)
					}
					cancel(fmt.Errorf("seed link %d of %d: %w", i+1, o.Count, err))
					return
				}
				codes[i] = l.Code
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return codes, nil
}
