package loadtest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestPickerMixAndZipf(t *testing.T) {
	codes := make([]string, 1000)
	for i := range codes {
		codes[i] = fmt.Sprintf("c%06d", i)
	}
	p := newPicker(Options{Server: "http://x/", Codes: codes, Redirects: 3, Creates: 1, ZipfS: 1.2, ZipfV: 1, ClientAddrs: 10, RandSeed: 7})
	hits := map[string]int{}
	var creates int
	for i := range 40_000 {
		var tgt vegeta.Target
		if err := p.target(&tgt); err != nil {
			t.Fatal(err)
		}
		switch tgt.Method {
		case http.MethodPost:
			creates++
			if i%4 != 3 {
				t.Fatalf("request %d is a create; a 3:1 mix makes every fourth one", i)
			}
			if tgt.URL != "http://x/api/v1/links" || !strings.HasPrefix(string(tgt.Body), `{"url":"https://`) {
				t.Fatalf("create target %s %s", tgt.URL, tgt.Body)
			}
			if xff := tgt.Header.Get("X-Forwarded-For"); !strings.HasPrefix(xff, "198.18.0.") {
				t.Fatalf("X-Forwarded-For %q, want one of 198.18.0.0-9", xff)
			}
		case http.MethodGet:
			hits[strings.TrimPrefix(tgt.URL, "http://x/")]++
		}
	}
	if creates != 10_000 {
		t.Errorf("%d creates in 40000 requests, want 10000", creates)
	}
	if p.header.Get("X-Forwarded-For") != "" {
		t.Error("a create's X-Forwarded-For leaked into the shared header")
	}
	// With s=1.2, rank 0 takes about a fifth of all picks and the tail a sliver.
	if top, tail := hits["c000000"], hits["c000999"]; top < 4000 || tail > top/50 {
		t.Errorf("Zipf picks: rank 0 %d times, rank 999 %d times", top, tail)
	}
	if hits["c000000"] <= hits["c000001"] || hits["c000001"] <= hits["c000010"] {
		t.Errorf("popularity is not falling with rank: %d, %d, %d", hits["c000000"], hits["c000001"], hits["c000010"])
	}
}

func TestPickerUniform(t *testing.T) {
	codes := []string{"aaa", "bbb", "ccc", "ddd"}
	p := newPicker(Options{Server: "http://x", Codes: codes, Redirects: 1, Creates: 0, RandSeed: 1})
	hits := map[string]int{}
	for range 40_000 {
		var tgt vegeta.Target
		p.target(&tgt)
		hits[tgt.URL]++
	}
	for _, c := range codes {
		if n := hits["http://x/"+c]; n < 9_000 || n > 11_000 {
			t.Errorf("uniform pick of %s: %d of 40000", c, n)
		}
	}
}

func TestErrorMessageDropsURL(t *testing.T) {
	r := &vegeta.Result{Method: "GET", URL: "http://h/abc1234", Error: `Get "http://h/abc1234": dial tcp 127.0.0.1:1: connect: connection refused`}
	if got := errorMessage(r); got != "dial tcp 127.0.0.1:1: connect: connection refused" {
		t.Errorf("errorMessage = %q", got)
	}
	r = &vegeta.Result{Method: "GET", URL: "http://h/x", Error: "429 Too Many Requests"}
	if got := errorMessage(r); got != "429 Too Many Requests" {
		t.Errorf("errorMessage = %q", got)
	}
}

func TestFormatting(t *testing.T) {
	for in, want := range map[float64]string{0.2134: "213µs", 0.0421: "42.1µs", 1.234: "1.23ms", 25.5: "25.5ms", 1500: "1.50s", 0: "-"} {
		if got := formatMillis(in); got != want {
			t.Errorf("formatMillis(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%d) = %q, want %q", in, got, want)
		}
	}
}
