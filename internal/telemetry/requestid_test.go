package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/shortlinks/shortlinks/internal/telemetry"
)

func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"9f86d081884c7d65-1a":                  true,
		"gw-0001":                              true,
		"f47ac10b-58cc-4372-a567-0e02b2c3d479": true,
		strings.Repeat("a", 128):               true,
		"":                                     false,
		strings.Repeat("a", 129):               false,
		"two words":                            false,
		"new\nline":                            false,
		`quo"te`:                               false,
		`back\slash`:                           false,
		"caf\u00e9":                            false,
	} {
		if got := telemetry.ValidRequestID(id); got != want {
			t.Errorf("ValidRequestID(%q) = %v, want %v", id, got, want)
		}
	}
}

// Ids made here, by Next and Header alike, are valid, and unique among
// many made at once.
func TestRequestIDsUnique(t *testing.T) {
	g := telemetry.NewRequestIDs()
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 10000 {
				id := g.Next()
				if i%2 == 1 {
					h := g.Header()
					if len(h) != 1 || cap(h) != 1 {
						t.Fatalf("Header() = %q (cap %d), want one value of its own", h, cap(h))
					}
					id = h[0]
				}
				if !telemetry.ValidRequestID(id) {
					t.Errorf("made an invalid id %q", id)
				}
				mu.Lock()
				if seen[id] {
					t.Errorf("id %q made twice", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if other := telemetry.NewRequestIDs().Next(); seen[other] {
		t.Errorf("a second generator repeated %q", other)
	}
}

// A request id as a header value costs no allocation per request: they
// are made in blocks.
func TestRequestIDHeaderAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	g := telemetry.NewRequestIDs()
	if n := testing.AllocsPerRun(1000, func() { g.Header() }); n != 0 {
		t.Errorf("Header allocates %v times a call, want 0 (amortized over a block)", n)
	}
}

// FuzzRequestID feeds any header value: an id judged valid must be safe to
// write into a JSON log line and a response header as it is.
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"gw-1", "", "a b", "\x00", strings.Repeat("z", 130), "caf\u00e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !telemetry.ValidRequestID(id) {
			return
		}
		var buf bytes.Buffer
		log := telemetry.NewLogger(&buf, "json", "info")
		log.InfoContext(telemetry.WithRequestID(context.Background(), id), "request")
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("log line for id %q: %v", id, err)
		}
		if line["request_id"] != id {
			t.Fatalf("logged request_id %q, want %q", line["request_id"], id)
		}
		if !httpguts.ValidHeaderFieldValue(id) {
			t.Fatalf("id %q is not a valid header value", id)
		}
	})
}

// Lines logged without a request's context carry no request id; with one,
// they do, in every handler derived from the logger.
func TestLoggerAddsRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := telemetry.NewLogger(&buf, "json", "debug").With("component", "test").WithGroup("g")
	log.Info("plain")
	log.DebugContext(telemetry.WithRequestID(context.Background(), "req-7"), "scoped", "k", "v")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines:\n%s", buf.String())
	}
	if strings.Contains(lines[0], "request_id") {
		t.Errorf("line without a request carries a request id: %s", lines[0])
	}
	if !strings.Contains(lines[1], `"request_id":"req-7"`) || !strings.Contains(lines[1], `"service":"shortlinks"`) {
		t.Errorf("line of a request: %s", lines[1])
	}
}
