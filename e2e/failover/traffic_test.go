package failover

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// How hard the clients push: enough to see every failure mode on two
// shared cores, little enough to leave room for the servers.
const (
	creators    = 4
	redirecters = 4
	pause       = 10 * time.Millisecond // between one client's requests
)

// A create is one POST /api/v1/links as a client saw it.
type create struct {
	start, end time.Time
	status     int
	code       string // the link's code on 201; the error code otherwise
	instance   int
	err        error // transport error, if any
}

// A redirect is one GET /{code}.
type redirect struct {
	start, end time.Time
	status     int
	code       string
	err        error
}

// traffic drives creates and redirects at the instances until stopped.
type traffic struct {
	instances []*instance
	client    *http.Client
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu        sync.Mutex
	creates   []create
	redirects []redirect
	acked     []string // codes of 201s
	ackedBy   map[string]int
}

func startTraffic(instances []*instance) *traffic {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &traffic{
		instances: instances,
		cancel:    cancel,
		ackedBy:   make(map[string]int),
		client: &http.Client{
			// Far past createBound: a request that hangs is seen hanging.
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport:     &http.Transport{MaxIdleConnsPerHost: creators + redirecters},
		},
	}
	for i := range creators {
		tr.wg.Go(func() { tr.create(ctx, i) })
	}
	for range redirecters {
		tr.wg.Go(func() { tr.redirect(ctx) })
	}
	return tr
}

// stop ends the traffic and waits for requests under way.
func (tr *traffic) stop() {
	tr.cancel()
	tr.wg.Wait()
}

func (tr *traffic) create(ctx context.Context, client int) {
	for n := 0; ctx.Err() == nil; n++ {
		which := (client + n) % len(tr.instances)
		body := fmt.Sprintf(`{"url": "https://example.com/ha/%d/%d"}`, client, n)
		c := create{start: time.Now(), instance: which}
		req, _ := http.NewRequest("POST", tr.instances[which].base+"/api/v1/links", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := tr.client.Do(req)
		c.end = time.Now()
		if err != nil {
			c.err = err
		} else {
			c.status = resp.StatusCode
			var out struct {
				Code  string `json:"code"`
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			json.Unmarshal(b, &out)
			c.code = out.Code
			if c.status != http.StatusCreated {
				c.code = out.Error.Code
			}
		}
		tr.mu.Lock()
		tr.creates = append(tr.creates, c)
		if c.status == http.StatusCreated {
			tr.acked = append(tr.acked, c.code)
			tr.ackedBy[c.code] = which
		}
		tr.mu.Unlock()
		sleep(ctx, pause)
	}
}

func (tr *traffic) redirect(ctx context.Context) {
	for ctx.Err() == nil {
		tr.mu.Lock()
		var code string
		if len(tr.acked) > 0 {
			code = tr.acked[rand.IntN(len(tr.acked))]
		}
		tr.mu.Unlock()
		if code == "" {
			sleep(ctx, pause)
			continue
		}
		r := tr.get(tr.instances[rand.IntN(len(tr.instances))], code)
		tr.mu.Lock()
		tr.redirects = append(tr.redirects, r)
		tr.mu.Unlock()
		sleep(ctx, pause)
	}
}

// get follows nothing: it asks one instance to redirect code once.
func (tr *traffic) get(in *instance, code string) redirect {
	r := redirect{start: time.Now(), code: code}
	resp, err := tr.client.Get(in.base + "/" + code)
	r.end = time.Now()
	if err != nil {
		r.err = err
		return r
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.status = resp.StatusCode
	return r
}

// acknowledged returns the codes of every 201 and the instance of each.
func (tr *traffic) acknowledged() map[string]int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make(map[string]int, len(tr.ackedBy))
	for c, i := range tr.ackedBy {
		out[c] = i
	}
	return out
}

// figures are what one scenario measured.
type figures struct {
	Scenario        string
	CreatesOK       int
	CreatesFailed   int
	Gap             time.Duration // longest wait between two successful creates
	Failing         time.Duration // from the first failed create to the end of the last
	SlowestCreate   time.Duration
	RedirectsOK     int
	RedirectsFailed int
	Lost            int // acknowledged creates not found afterwards
	Note            string
}

// measure counts the traffic's outcomes, and checks that every failed
// create failed the way it must: 503 storage_unavailable, within
// createBound.
func (tr *traffic) measure(t *testing.T, scenario string, okStatus int) figures {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	f := figures{Scenario: scenario}
	var last, firstFail, lastFail time.Time
	for i, c := range tr.creates {
		d := c.end.Sub(c.start)
		f.SlowestCreate = max(f.SlowestCreate, d)
		if d > createBound {
			t.Errorf("create %d took %v, past the bound of %v (status %d, %v)", i, d, createBound, c.status, c.err)
		}
		if c.status == http.StatusCreated {
			f.CreatesOK++
			if !last.IsZero() {
				f.Gap = max(f.Gap, c.end.Sub(last))
			}
			last = c.end
			continue
		}
		f.CreatesFailed++
		if firstFail.IsZero() || c.start.Before(firstFail) {
			firstFail = c.start
		}
		if c.end.After(lastFail) {
			lastFail = c.end
		}
		if c.status != http.StatusServiceUnavailable || c.code != "storage_unavailable" {
			t.Errorf("create %d failed with %d %q (%v); want 503 storage_unavailable", i, c.status, c.code, c.err)
		}
	}
	if !firstFail.IsZero() {
		f.Failing = lastFail.Sub(firstFail)
	}
	for _, r := range tr.redirects {
		if r.status == okStatus {
			f.RedirectsOK++
			continue
		}
		f.RedirectsFailed++
		if f.RedirectsFailed <= 5 {
			t.Logf("redirect of %s failed: %d %v", r.code, r.status, r.err)
		}
	}
	return f
}

// report prints the figures as a table and, when SHORTLINKS_HA_REPORT
// names a file, appends them to it, for docs/architecture.md.
func report(t *testing.T, fs ...figures) {
	t.Helper()
	var b bytes.Buffer
	header := "| scenario | creates ok | creates failed | creates failing for (s) | longest without a create (s) | slowest create (s) | redirects ok | redirects failed | acknowledged lost | notes |\n|---|---|---|---|---|---|---|---|---|---|\n"
	for _, f := range fs {
		fmt.Fprintf(&b, "| %s | %d | %d | %.1f | %.1f | %.1f | %d | %d | %d | %s |\n", f.Scenario, f.CreatesOK, f.CreatesFailed,
			f.Failing.Seconds(), f.Gap.Seconds(), f.SlowestCreate.Seconds(), f.RedirectsOK, f.RedirectsFailed, f.Lost, f.Note)
	}
	t.Logf("\n%s%s", header, b.String())
	path := os.Getenv("SHORTLINKS_HA_REPORT")
	if path == "" {
		return
	}
	file, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("report: %v", err)
		return
	}
	defer file.Close()
	fmt.Fprintf(file, "%s, `%s`:\n\n", time.Now().UTC().Format(time.RFC3339), t.Name())
	file.WriteString(header)
	file.Write(b.Bytes())
	file.WriteString("\n")
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
