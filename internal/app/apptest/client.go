package apptest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// NoRedirects is an HTTP client that reports redirects instead of following
// them.
var NoRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{MaxIdleConnsPerHost: 64},
}

// Reply is a response with its body read.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do makes one request with c; a body is sent as JSON, and headers are
// name, value pairs that may override that.
func Do(c *http.Client, method, url, body string, headers ...string) (Reply, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return Reply{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return Reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return Reply{resp.StatusCode, resp.Header, b}, err
}

// MustDo is Do, failing the test if there is no response.
func MustDo(t testing.TB, c *http.Client, method, url, body string, headers ...string) Reply {
	t.Helper()
	r, err := Do(c, method, url, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// Create posts body, a JSON create request, to base's API and returns the
// new link's code, failing the test unless the answer is 201.
func Create(t testing.TB, base, body string, headers ...string) string {
	t.Helper()
	r := MustDo(t, NoRedirects, http.MethodPost, base+"/api/v1/links", body, headers...)
	if r.Status != http.StatusCreated {
		t.Fatalf("create %s = %d %s", body, r.Status, r.Body)
	}
	var l struct{ Code string }
	if err := json.Unmarshal(r.Body, &l); err != nil {
		t.Fatal(err)
	}
	return l.Code
}

// Resolve asks base to redirect code and returns the status and Location.
func Resolve(t testing.TB, base, code string) (int, string) {
	t.Helper()
	resp, err := NoRedirects.Get(base + "/" + code)
	if err != nil {
		t.Fatalf("GET /%s: %v", code, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// MustRedirect fails the test unless base redirects code to want with 302.
func MustRedirect(t testing.TB, base, code, want string) {
	t.Helper()
	if status, loc := Resolve(t, base, code); status != http.StatusFound || loc != want {
		t.Fatalf("GET /%s = %d %q, want 302 %q", code, status, loc, want)
	}
}

// Readiness is the body of /readyz.
type Readiness struct {
	Status string `json:"status"`
	Checks map[string]struct {
		Status   string `json:"status"`
		Critical bool   `json:"critical"`
	} `json:"checks"`
}

// States returns the state of each named check, as "name=up name2=down".
func (r Readiness) States(names ...string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + "=" + r.Checks[n].Status
	}
	return strings.Join(out, " ")
}

// Ready reads base's /readyz.
func Ready(t testing.TB, base string) (int, Readiness) {
	t.Helper()
	resp, err := NoRedirects.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r Readiness
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(fmt.Errorf("/readyz: %w", err))
	}
	return resp.StatusCode, r
}
