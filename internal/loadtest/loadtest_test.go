package loadtest_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/loadtest"
)

// startServer runs a real Shortlinks server on a temporary SQLite database,
// with the defaults as set changes them.
func startServer(t *testing.T, set ...func(*config.Config)) *apptest.Server {
	t.Helper()
	return apptest.Start(t, slog.New(slog.DiscardHandler), app.Telemetry{}, set...)
}

func TestRunCountsAddUp(t *testing.T) {
	srv := startServer(t, func(c *config.Config) { c.CreateRate = 0 })
	codes, err := loadtest.CreateLinks(t.Context(), loadtest.CreateOptions{Server: srv.URL, Count: 300, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 300 || codes[0] == "" || codes[299] == "" {
		t.Fatalf("CreateLinks returned %d codes, first %q last %q", len(codes), codes[0], codes[len(codes)-1])
	}

	var progress bytes.Buffer
	rep, err := loadtest.Run(t.Context(), loadtest.Options{
		Server: srv.URL, Codes: codes, Redirects: 20, Creates: 1,
		Rate: 400, Workers: 4, Duration: 2 * time.Second, ZipfS: 1.1, ZipfV: 1,
		Progress: &progress, ProgressEvery: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}

	// The pacer never runs ahead of 400/s: at most 800 in 2 s, and one more
	// that fell due as time ran out. A machine too busy to keep up sends
	// fewer, and then the report must say so; on a quiet one it is 800.
	const scheduled = 400 * 2
	n := rep.Total.Requests
	if n == 0 || n > scheduled+1 {
		t.Errorf("total requests = %d, want at most %d", n, scheduled+1)
	}
	short := slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, "could not keep up") })
	if short != (n < scheduled*95/100) {
		t.Errorf("sent %d of %d scheduled requests with warnings %q: want a warning exactly when fewer than 95%% were sent", n, scheduled, rep.Warnings)
	}
	if short {
		t.Logf("this machine could not keep up: %s", rep.Warnings)
	}
	if rep.Total.Errors != 0 {
		t.Errorf("errors = %d (%v), want none", rep.Total.Errors, rep.Total.ErrorMessages)
	}
	if len(rep.Kinds) != 2 || rep.Kinds[0].Kind != loadtest.KindRedirect || rep.Kinds[1].Kind != loadtest.KindCreate {
		t.Fatalf("kinds = %+v, want redirect then create", rep.Kinds)
	}
	redirects, creates := rep.Kinds[0], rep.Kinds[1]
	if redirects.Requests+creates.Requests != rep.Total.Requests {
		t.Errorf("kinds add up to %d, total says %d", redirects.Requests+creates.Requests, rep.Total.Requests)
	}
	// The mix is 20:1 exactly, to within one cycle.
	if want := rep.Total.Requests / 21; creates.Requests < want || creates.Requests > want+1 {
		t.Errorf("creates = %d of %d, want %d for a 20:1 mix", creates.Requests, rep.Total.Requests, want)
	}
	if redirects.StatusCodes["302"] != redirects.Requests || len(redirects.StatusCodes) != 1 {
		t.Errorf("redirect status codes = %v, want only 302 (redirects must not be followed)", redirects.StatusCodes)
	}
	if creates.StatusCodes["201"] != creates.Requests || len(creates.StatusCodes) != 1 {
		t.Errorf("create status codes = %v, want only 201", creates.StatusCodes)
	}
	for _, s := range append(rep.Kinds, rep.Total) {
		if s.Succeeded+s.Errors != s.Requests {
			t.Errorf("%s: %d succeeded + %d errors != %d requests", s.Kind, s.Succeeded, s.Errors, s.Requests)
		}
		var hist uint64
		for _, n := range s.Histogram {
			hist += n
		}
		if hist != s.Requests {
			t.Errorf("%s: histogram holds %d requests, want %d", s.Kind, hist, s.Requests)
		}
		var timeline uint64
		for _, p := range rep.Timeline {
			if p.Kind == s.Kind {
				timeline += p.Requests
			}
		}
		if timeline != s.Requests {
			t.Errorf("%s: timeline holds %d requests, want %d", s.Kind, timeline, s.Requests)
		}
		l := s.Latency
		if !(l.P50 > 0 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max*1.0001) {
			t.Errorf("%s: latency percentiles out of order: %+v", s.Kind, l)
		}
	}
	// From the first request sent to the last answer: no longer than the
	// run and one request's timeout (10 s by default).
	if rep.Duration <= 0 || rep.Duration > 2+10 {
		t.Errorf("duration = %.2fs, want up to 12s", rep.Duration)
	}
	if lines := strings.Count(progress.String(), "\n"); lines < 2 || !strings.Contains(progress.String(), "rps") {
		t.Errorf("progress printed %d lines: %q", lines, progress.String())
	}

	// Every created link really exists: the creates were not just counted.
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"redirect", "create", "total", "p99.9", "302 ×"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	var page bytes.Buffer
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(page.String(), "<svg"); n != 3 {
		t.Errorf("HTML report has %d charts, want 3", n)
	}
	if strings.Contains(page.String(), "http://") && strings.Contains(page.String(), "<script src") {
		t.Error("HTML report loads something from elsewhere")
	}
	raw, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back loadtest.Report
	if err := json.Unmarshal(raw, &back); err != nil || back.Total.Requests != rep.Total.Requests {
		t.Fatalf("JSON round trip: %v, %d requests", err, back.Total.Requests)
	}
}

func TestRunFlatOut(t *testing.T) {
	srv := startServer(t)
	codes, err := loadtest.CreateLinks(t.Context(), loadtest.CreateOptions{Server: srv.URL, Count: 10, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := loadtest.Run(t.Context(), loadtest.Options{
		Server: srv.URL, Codes: codes, Redirects: 1, Creates: 0, Rate: 0, Workers: 4, Duration: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Requests < 100 || rep.Total.Errors != 0 || len(rep.Kinds) != 1 {
		t.Fatalf("flat out: %d requests, %d errors, kinds %v", rep.Total.Requests, rep.Total.Errors, rep.Kinds)
	}
}

func TestSeedReportsRateLimit(t *testing.T) {
	srv := startServer(t) // default: 1 create/s per address, burst 20
	_, err := loadtest.CreateLinks(t.Context(), loadtest.CreateOptions{Server: srv.URL, Count: 50, Concurrency: 2})
	if err == nil || !strings.Contains(err.Error(), "--rate-limit-create 0") {
		t.Fatalf("CreateLinks past the rate limit = %v, want advice on --rate-limit-create 0", err)
	}
}

func TestRunCountsRateLimitedCreates(t *testing.T) {
	// A burst of 20, then one an hour: exactly 20 go through, however long
	// the run takes.
	srv := startServer(t, func(c *config.Config) { c.CreateRate, c.CreateBurst = 1.0/3600, 20 })
	rep, err := loadtest.Run(t.Context(), loadtest.Options{
		Server: srv.URL, Redirects: 0, Creates: 1, Rate: 100, Workers: 2, Duration: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Kinds[0]
	if c.StatusCodes["201"] != 20 || c.StatusCodes["429"] == 0 {
		t.Errorf("creates past the limit: status codes %v, want 20 × 201 then 429s", c.StatusCodes)
	}
	if c.Errors != c.StatusCodes["429"] || len(rep.Warnings) == 0 || !strings.Contains(rep.Warnings[0], "--client-addrs") {
		t.Errorf("errors %d, warnings %q: want the 429s counted and explained", c.Errors, rep.Warnings)
	}
}

// Behind a trusted proxy address, synthetic client addresses each get their
// own bucket, so the limiter stays on and nothing is refused.
func TestClientAddrsPassTrustedProxy(t *testing.T) {
	srv := startServer(t, func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
	})
	codes, err := loadtest.CreateLinks(t.Context(), loadtest.CreateOptions{Server: srv.URL, Count: 100, Concurrency: 4, ClientAddrs: 1000})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := loadtest.Run(t.Context(), loadtest.Options{
		Server: srv.URL, Codes: codes, Redirects: 1, Creates: 1, Rate: 200, Workers: 2, Duration: time.Second, ClientAddrs: 4096,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Errors != 0 {
		t.Fatalf("errors through a trusted proxy: %v", rep.Total.ErrorMessages)
	}
}

func TestParseMix(t *testing.T) {
	for _, tt := range []struct {
		in     string
		r, c   int
		wantOK bool
	}{
		{"100", 100, 1, true}, {"100:1", 100, 1, true}, {"1:0", 1, 0, true}, {"0:1", 0, 1, true},
		{"3 : 2", 3, 2, true}, {"0:0", 0, 0, false}, {"-1", 0, 0, false}, {"a:b", 0, 0, false}, {"", 0, 0, false},
	} {
		r, c, err := loadtest.ParseMix(tt.in)
		if (err == nil) != tt.wantOK || (tt.wantOK && (r != tt.r || c != tt.c)) {
			t.Errorf("ParseMix(%q) = %d, %d, %v", tt.in, r, c, err)
		}
	}
}

func TestCodesFileRoundTrip(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("# codes\n\n")
	for _, c := range []string{"abc1234", "XyZ9876"} {
		if err := loadtest.WriteLink(&b, c, "https://example.com/"+c); err != nil {
			t.Fatal(err)
		}
	}
	b.WriteString("plain\n")
	got, err := loadtest.ReadCodes(&b)
	if err != nil || strings.Join(got, ",") != "abc1234,XyZ9876,plain" {
		t.Fatalf("ReadCodes = %q, %v", got, err)
	}
	if _, err := loadtest.ReadCodes(strings.NewReader("\n# nothing\n")); err == nil {
		t.Error("ReadCodes of an empty file succeeded")
	}
	if _, err := loadtest.ReadCodes(strings.NewReader("http://x/abc\n")); err == nil {
		t.Error("ReadCodes accepted a URL as a code")
	}
}

func TestSyntheticURLsAreNormalAndRealistic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	total := 0
	seen := map[string]bool{}
	for range 5000 {
		u := loadtest.SyntheticURL(r)
		n, err := link.NormalizeURL(u, link.URLRules{})
		if err != nil || n != u {
			t.Fatalf("NormalizeURL(%q) = %q, %v; want it unchanged", u, n, err)
		}
		total += len(u)
		seen[u] = true
	}
	if avg := total / 5000; avg < 65 || avg > 100 {
		t.Errorf("average URL length %d bytes, want about 80", avg)
	}
	if len(seen) < 4990 {
		t.Errorf("only %d distinct URLs in 5000", len(seen))
	}
}
