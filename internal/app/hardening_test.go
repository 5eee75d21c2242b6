package app_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// TestSlowClientsAreCutOff sends requests over raw sockets that never
// finish: a declared body that never comes, on routes that read bodies and
// on routes that don't, and headers that never end. Each must be answered
// or closed within the read timeout, not held open.
func TestSlowClientsAreCutOff(t *testing.T) {
	const bound = time.Second
	base := apptest.Serve(t, func(c *config.Config) { c.ReadTimeout = bound })
	addr := strings.TrimPrefix(base, "http://")

	tests := []struct {
		name, request string
	}{
		{"body never sent to healthz", "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"},
		{"body never sent to a redirect", "GET /abcdefg HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"},
		{"body never sent to a missing route", "PUT /nowhere/at/all HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"},
		{"create body cut short", "POST /api/v1/links HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"url\":"},
		{"chunked body never ends", "POST /api/v1/links HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"url"},
		{"headers never end", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			if _, err := io.WriteString(conn, tt.request); err != nil {
				t.Fatal(err)
			}
			// Well past the bound: a server that holds the connection is
			// caught here, not at the test's timeout.
			conn.SetReadDeadline(start.Add(bound + 8*time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err == nil {
				// Answered: now the connection must close too, since what
				// follows on it is not a request.
				resp.Body.Close()
				_, err = conn.Read(make([]byte, 1))
			}
			elapsed := time.Since(start)
			if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("connection still open after %v (bound %v)", elapsed, bound)
			}
			if elapsed > bound+4*time.Second {
				t.Errorf("closed after %v, want about %v", elapsed, bound)
			}
		})
	}
}

// TestRateLimitIPv6ByPrefix creates links from 25 addresses of one IPv6
// /64, which one host holds whole: they share one budget, in process and
// in Redis, while addresses of another /64 and IPv4 addresses each have
// their own.
func TestRateLimitIPv6ByPrefix(t *testing.T) {
	for _, shared := range []bool{false, true} {
		name := "in process"
		if shared {
			name = "redis"
		}
		t.Run(name, func(t *testing.T) {
			base := apptest.Serve(t, func(c *config.Config) {
				c.CreateRate, c.CreateBurst = 0.001, 20
				c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
				if shared {
					c.RedisURL = servicetest.Redis(t)
					c.RedisKeyPrefix = "test:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
				}
			})
			create := func(from string) int {
				t.Helper()
				return apptest.MustDo(t, apptest.NoRedirects, http.MethodPost, base+"/api/v1/links", `{"url":"https://example.com/"}`,
					"Content-Type", "application/json", "X-Forwarded-For", from).Status
			}
			created := 0
			for i := range 25 {
				switch st := create(fmt.Sprintf("2001:db8:5:6:%x:%x::%x", i*331, i, i+1)); st {
				case http.StatusCreated:
					created++
				case http.StatusTooManyRequests:
				default:
					t.Fatalf("create %d: status %d", i, st)
				}
			}
			if created != 20 {
				t.Errorf("25 addresses of one /64 made %d links, want the burst of 20", created)
			}
			if st := create("2001:db8:5:7::1"); st != http.StatusCreated {
				t.Errorf("another /64: status %d, want 201", st)
			}
			for i := range 21 {
				if st := create(fmt.Sprintf("198.51.100.%d", i+1)); st != http.StatusCreated {
					t.Errorf("IPv4 address %d: status %d, want 201", i+1, st)
				}
			}
		})
	}
}

// TestQRRateLimited fetches QR images from one address past the burst.
func TestQRRateLimited(t *testing.T) {
	base := apptest.Serve(t, func(c *config.Config) { c.QRRate, c.QRBurst = 0.001, 3 })
	code := apptest.Create(t, base, `{"url":"https://example.com/qr"}`)
	for i := range 4 {
		r := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, base+"/api/v1/links/"+code+"/qr", "")
		want := http.StatusOK
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		if r.Status != want {
			t.Fatalf("image %d: status %d, want %d", i+1, r.Status, want)
		}
	}
}

// TestHSTS sends Strict-Transport-Security on every answer, redirects and
// errors included, when the base URL is https, and never over plain http.
func TestHSTS(t *testing.T) {
	for _, tt := range []struct {
		base, want string
	}{{"https://sho.rt", "max-age=31536000"}, {"", ""}} {
		base := apptest.Serve(t, func(c *config.Config) {
			if tt.base != "" {
				c.BaseURL = tt.base
			}
		})
		code := apptest.Create(t, base, `{"url":"https://example.com/hsts"}`)
		for _, path := range []string{"/" + code, "/healthz", "/nosuchcode", "/"} {
			r := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, base+path, "")
			if got := r.Header.Get("Strict-Transport-Security"); got != tt.want {
				t.Errorf("base URL %q, GET %s (%d): Strict-Transport-Security %q, want %q", tt.base, path, r.Status, got, tt.want)
			}
		}
	}
}

// TestBlocklist runs the server with a list file, refuses what it names
// (subdomains too) with 400 url_blocked naming the list, and takes a change
// to the file while it runs without a restart.
func TestBlocklist(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "phish.txt")
	if err := os.WriteFile(list, []byte("# bad domains\nevil.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := apptest.Serve(t, func(c *config.Config) {
		c.Blocklists = []string{list}
		c.ShortenerHosts = []string{"sho.example"}
	})
	refused := func(url, code, inMessage string) {
		t.Helper()
		r := apptest.MustDo(t, apptest.NoRedirects, http.MethodPost, base+"/api/v1/links", fmt.Sprintf(`{"url":%q}`, url))
		var e struct {
			Error struct{ Code, Message, Field string } `json:"error"`
		}
		if err := json.Unmarshal(r.Body, &e); err != nil || r.Status != http.StatusBadRequest || e.Error.Code != code ||
			e.Error.Field != "url" || !strings.Contains(e.Error.Message, inMessage) {
			t.Errorf("create %s: %d %s, want 400 %s saying %q", url, r.Status, r.Body, code, inMessage)
		}
	}
	refused("https://evil.example/login", "url_blocked", `"phish"`)
	refused("https://WWW.Evil.Example./x", "url_blocked", `"phish"`)
	refused("https://bit.ly/3abcdef", "url_is_short_link", "")
	refused("https://go.sho.example/x", "url_is_short_link", "")
	apptest.Create(t, base, `{"url":"https://later.example/"}`)

	// Replaced as tools do: a new file renamed over the old one.
	next := filepath.Join(dir, "phish.txt.new")
	if err := os.WriteFile(next, []byte("evil.example\nlater.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, list); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := apptest.MustDo(t, apptest.NoRedirects, http.MethodPost, base+"/api/v1/links", `{"url":"https://later.example/again"}`)
		if r.Status == http.StatusBadRequest && strings.Contains(string(r.Body), "url_blocked") {
			break
		}
		if r.Status != http.StatusCreated || time.Now().After(deadline) {
			t.Fatalf("after the list changed: %d %s", r.Status, r.Body)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The page refuses it too, beside the field.
	r := apptest.MustDo(t, apptest.NoRedirects, http.MethodPost, base+"/", "url=https%3A%2F%2Fevil.example%2F",
		"Content-Type", "application/x-www-form-urlencoded", "Accept", "text/html", "Sec-Fetch-Site", "same-origin")
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "phish") {
		t.Errorf("the form with a blocked URL: %d %.300s", r.Status, r.Body)
	}
}

// TestBlocklistUnreadable refuses to start with a list it cannot read.
func TestBlocklistUnreadable(t *testing.T) {
	cfg := apptest.Config(t, func(c *config.Config) { c.Blocklists = []string{filepath.Join(t.TempDir(), "missing.txt")} })
	if a, err := app.New(t.Context(), cfg, slog.New(slog.DiscardHandler), app.Telemetry{}); err == nil {
		a.Close()
		t.Fatal("started with a missing blocklist")
	}
}

// TestSafeBrowsing looks new links up in a fake Safe Browsing API that
// answers slowly: creates do not wait for it, and a link to a URL it lists
// is reported.
func TestSafeBrowsing(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ThreatInfo struct {
				ThreatEntries []struct{ URL string } `json:"threatEntries"`
			} `json:"threatInfo"`
		}
		if r.URL.Query().Get("key") != "test-key" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, `{"error":{"code":400,"status":"INVALID_ARGUMENT"}}`, http.StatusBadRequest)
			return
		}
		time.Sleep(5 * time.Second) // slower than any create may take
		var matches []map[string]any
		mu.Lock()
		for _, e := range req.ThreatInfo.ThreatEntries {
			asked = append(asked, e.URL)
			if strings.Contains(e.URL, "malware") {
				matches = append(matches, map[string]any{"threatType": "MALWARE", "platformType": "ANY_PLATFORM",
					"threatEntryType": "URL", "threat": map[string]string{"url": e.URL}, "cacheDuration": "300s"})
			}
		}
		mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"matches": matches})
	}))
	t.Cleanup(fake.Close)

	var logs servicetest.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	r := apptest.Start(t, log, app.Telemetry{}, func(c *config.Config) {
		c.CreateRate, c.LogRequests = 0, "none"
		c.SafeBrowsing = config.SafeBrowsing{Key: "test-key", Endpoint: fake.URL}
	})
	start := time.Now()
	code := apptest.Create(t, r.URL, `{"url":"https://malware.example/payload"}`)
	apptest.Create(t, r.URL, `{"url":"https://fine.example/"}`)
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("two creates took %v: they waited for Safe Browsing", d)
	}
	// The redirect works meanwhile: it never asks Safe Browsing.
	if rr := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, r.URL+"/"+code, ""); rr.Status != http.StatusFound {
		t.Errorf("redirect while the lookup runs: %d", rr.Status)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), `"code":"`+code+`"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no verdict on %s logged; the API was asked for %v; log:\n%s", code, asked, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(asked, "https://malware.example/payload") || strings.Contains(logs.String(), "test-key") {
		t.Errorf("asked for %v; the key must never be logged", asked)
	}
}

// TestReadyWhileWritesFail: with the database's disk full, /readyz still
// answers 200, since redirects are served, and reports database-write
// down; creates fail with 503; when there is room again, it is up.
func TestReadyWhileWritesFail(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s (needs CAP_SYS_ADMIN)", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	base := apptest.Serve(t, func(c *config.Config) { c.DatabaseURL = "sqlite:" + filepath.Join(dir, "links.db") })
	code := apptest.Create(t, base, `{"url":"https://example.com/before"}`)
	ready := func() (int, string) {
		r := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, base+"/readyz", "")
		var body struct {
			Checks map[string]struct{ Status string } `json:"checks"`
		}
		json.Unmarshal(r.Body, &body)
		return r.Status, body.Checks["database-write"].Status
	}
	if st, w := ready(); st != 200 || w != "up" {
		t.Fatalf("before: /readyz %d, database-write %q", st, w)
	}
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	f.Close()
	var st int
	var w string
	for range 100 { // the first writes may fit in pages the WAL already has
		if st, w = ready(); w == "down" {
			break
		}
	}
	if st != 200 || w != "down" {
		t.Errorf("disk full: /readyz %d, database-write %q; want 200 and down", st, w)
	}
	if r := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, base+"/"+code, ""); r.Status != http.StatusFound {
		t.Errorf("disk full: redirect %d, want 302", r.Status)
	}
	if r := apptest.MustDo(t, apptest.NoRedirects, http.MethodPost, base+"/api/v1/links", `{"url":"https://example.com/full"}`); r.Status != http.StatusServiceUnavailable {
		t.Errorf("disk full: create %d %s, want 503", r.Status, r.Body)
	}
	os.Remove(filler)
	if st, w := ready(); st != 200 || w != "up" {
		t.Errorf("room again: /readyz %d, database-write %q", st, w)
	}
}
