// Package loadtest drives a running Shortlinks server with a realistic mix
// of redirects and creates, and reports latency and throughput. Requests are
// generated and timed by vegeta; this package chooses them (codes drawn
// from a Zipf distribution, creates mixed in at a fixed ratio), follows the
// run live and renders the report as text, JSON or an HTML page.
package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Kinds of request.
const (
	KindRedirect = "redirect"
	KindCreate   = "create"
)

// Options configure a run.
type Options struct {
	// Server is the base URL of the server under test, like http://127.0.0.1:8080.
	Server string
	// Codes are the codes to redirect, most popular first: the Zipf
	// distribution picks index 0 most often.
	Codes []string
	// Redirects and Creates are the mix: Redirects redirects for every
	// Creates creates. Either may be zero, not both.
	Redirects, Creates int
	// Rate is requests per second; zero sends as fast as Workers allow.
	Rate int
	// Workers is how many requests may be in flight at once, each on its
	// own connection. At a fixed rate vegeta adds workers, up to MaxWorkers
	// (at least Workers), when the server falls behind.
	Workers    int
	MaxWorkers int
	// Duration bounds the run.
	Duration time.Duration
	// ZipfS and ZipfV shape the popularity of codes: P(rank k) is
	// proportional to (ZipfV + k)^-ZipfS. ZipfS zero picks codes uniformly.
	ZipfS, ZipfV float64
	// RandSeed makes the sequence of codes and URLs repeatable.
	RandSeed uint64
	// APIKey, when set, is sent as the bearer token on creates.
	APIKey string
	// ClientAddrs, when above zero, makes creates carry X-Forwarded-For
	// with one of that many synthetic client addresses from 198.18.0.0/15,
	// the range set aside for benchmarks. A server that trusts this
	// generator's address (--trusted-proxies) then rate-limits each
	// synthetic client on its own, as it would real users behind a proxy.
	ClientAddrs int
	// Timeout bounds each request.
	Timeout time.Duration
	// Progress, when not nil, receives a line every ProgressEvery.
	Progress      io.Writer
	ProgressEvery time.Duration
}

// MaxClientAddrs is the size of 198.18.0.0/15.
const MaxClientAddrs = 1 << 17

// ParseMix reads a mix like "100" (100 redirects per create), "100:1",
// "1:0" (redirects only) or "0:1" (creates only).
func ParseMix(s string) (redirects, creates int, err error) {
	r, c, found := strings.Cut(s, ":")
	bad := fmt.Errorf("mix %q: want REDIRECTS[:CREATES], like 100, 100:1, 1:0 or 0:1", s)
	if redirects, err = strconv.Atoi(strings.TrimSpace(r)); err != nil || redirects < 0 {
		return 0, 0, bad
	}
	creates = 1
	if found {
		if creates, err = strconv.Atoi(strings.TrimSpace(c)); err != nil || creates < 0 {
			return 0, 0, bad
		}
	}
	if redirects == 0 && creates == 0 {
		return 0, 0, bad
	}
	return redirects, creates, nil
}

func (o *Options) check() error {
	var errs []error
	if o.Server == "" {
		errs = append(errs, errors.New("no server to test"))
	}
	if o.Redirects < 0 || o.Creates < 0 || o.Redirects+o.Creates == 0 {
		errs = append(errs, errors.New("the mix needs redirects, creates or both"))
	}
	if o.Redirects > 0 && len(o.Codes) == 0 {
		errs = append(errs, errors.New("redirects need codes: seed some or give a codes file"))
	}
	if o.Rate < 0 {
		errs = append(errs, errors.New("the rate cannot be negative"))
	}
	if o.Workers < 1 {
		errs = append(errs, errors.New("at least one worker is needed"))
	}
	if o.Duration <= 0 {
		errs = append(errs, errors.New("the duration must be positive"))
	}
	if o.ZipfS != 0 && (o.ZipfS <= 1 || o.ZipfV < 1) {
		errs = append(errs, errors.New("the Zipf distribution needs s > 1 and v >= 1 (or s = 0 for uniform)"))
	}
	if o.ClientAddrs < 0 || o.ClientAddrs > MaxClientAddrs {
		errs = append(errs, fmt.Errorf("client addresses must be from 0 to %d", MaxClientAddrs))
	}
	return errors.Join(errs...)
}

// picker chooses each request. vegeta calls it from many workers at once.
type picker struct {
	base      string
	codes     []string
	redirects uint64
	cycle     uint64
	header    http.Header
	addrs     int

	mu   sync.Mutex
	n    uint64
	rng  *rand.Rand
	zipf *rand.Zipf
}

func newPicker(o Options) *picker {
	p := &picker{
		base:      strings.TrimSuffix(o.Server, "/"),
		codes:     o.Codes,
		redirects: uint64(o.Redirects),
		cycle:     uint64(o.Redirects + o.Creates),
		addrs:     o.ClientAddrs,
		rng:       rand.New(rand.NewPCG(o.RandSeed, 0x5eed)),
		header:    http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}},
	}
	if o.APIKey != "" {
		p.header.Set("Authorization", "Bearer "+o.APIKey)
	}
	if o.ZipfS != 0 && len(o.Codes) > 0 {
		p.zipf = rand.NewZipf(p.rng, o.ZipfS, o.ZipfV, uint64(len(o.Codes)-1))
	}
	return p
}

// clientAddr is the i-th address of 198.18.0.0/15.
func clientAddr(i int) string {
	return netip.AddrFrom4([4]byte{198, 18 + byte(i>>16), byte(i >> 8), byte(i)}).String()
}

func (p *picker) target(t *vegeta.Target) error {
	p.mu.Lock()
	i := p.n
	p.n++
	if i%p.cycle < p.redirects {
		var k uint64
		if p.zipf != nil {
			k = p.zipf.Uint64()
		} else {
			k = p.rng.Uint64N(uint64(len(p.codes)))
		}
		p.mu.Unlock()
		*t = vegeta.Target{Method: http.MethodGet, URL: p.base + "/" + p.codes[k]}
		return nil
	}
	u := SyntheticURL(p.rng)
	addr := -1
	if p.addrs > 0 {
		addr = p.rng.IntN(p.addrs)
	}
	p.mu.Unlock()
	body, _ := json.Marshal(map[string]string{"url": u})
	h := p.header
	if addr >= 0 {
		h = h.Clone()
		h.Set("X-Forwarded-For", clientAddr(addr))
	}
	*t = vegeta.Target{Method: http.MethodPost, URL: p.base + "/api/v1/links", Body: body, Header: h}
	return nil
}

func kindOf(r *vegeta.Result) string {
	if r.Method == http.MethodPost {
		return KindCreate
	}
	return KindRedirect
}

// Run runs the load described by o until its duration is over or ctx ends,
// and reports what it measured. Redirects are not followed: the server's
// own 3xx answer is what is timed.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	// vegeta's zero rate means "no pacing": the workers bound it. At a fixed
	// rate vegeta may add workers when it falls behind, but each new worker
	// dials a new connection, and a burst of dials is latency the server
	// did not cause; so by default it may not.
	if o.Rate == 0 || o.MaxWorkers < o.Workers {
		o.MaxWorkers = o.Workers
	}
	if o.ZipfS != 0 && o.ZipfV == 0 {
		o.ZipfV = 1
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	opts := []func(*vegeta.Attacker){
		vegeta.Redirects(vegeta.NoFollow),
		vegeta.Timeout(o.Timeout),
		vegeta.Workers(uint64(o.Workers)),
		vegeta.MaxWorkers(uint64(o.MaxWorkers)),
		vegeta.Connections(o.MaxWorkers),
		vegeta.KeepAlive(true),
		vegeta.MaxBody(1024),
	}
	pacer := vegeta.ConstantPacer{Freq: o.Rate, Per: time.Second}
	atk := vegeta.NewAttacker(opts...)
	p := newPicker(o)
	rec := newRecorder(o)

	results := atk.Attack(p.target, pacer, o.Duration, "shortlinks-loadtest")
	tick := time.NewTicker(o.ProgressEvery)
	defer tick.Stop()
	done := ctx.Done()
	warned := false
	for {
		select {
		case r, ok := <-results:
			if !ok {
				return rec.report(), nil
			}
			rec.add(r)
			if !warned && r.Code == http.StatusTooManyRequests && o.Progress != nil {
				warned = true
				fmt.Fprintln(o.Progress, "warning: "+rateLimitAdvice+".")
			}
		case <-tick.C:
			if o.Progress != nil {
				rec.progress(o.Progress)
			}
		case <-done:
			rec.stopped = time.Now()
			atk.Stop()
			done = nil
		}
	}
}

// rateLimitAdvice explains 429 answers to creates.
const rateLimitAdvice = "the server refused creates with 429 Too Many Requests: it rate-limits creation per client address. " +
	"Start it with --rate-limit-create 0, or trust this generator's address (--trusted-proxies 127.0.0.1) " +
	"and give the load test --client-addrs 65536 so creates come from many synthetic clients"
