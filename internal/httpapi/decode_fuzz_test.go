package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/edge"
)

// FuzzDecodeJSON feeds the request decoder arbitrary bodies. It must never
// panic; it refuses with a 4xx problem, or it accepts exactly what
// encoding/json reads, from an object whose keys are the request's field
// names spelled exactly, each once.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"url":"https://example.com/"}`,
		`{"url":"https://good.example/","URL":"https://evil.example/"}`,
		`{"url":"a","url":"b"}`,
		`{"\u0075rl":"a","url":"b"}`,
		`{"url":"a","alias":"b","expires_in":5,"expires_at":"2030-01-01T00:00:00Z"}`,
		`{"url":{"a":1,"a":2}}`, `{"url":[{"x":1},{"x":1}]}`, `[{"url":"a"}]`, `{}`, `{"url":`, `"url"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/links", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		var got CreateRequest
		err := decodeJSON(httptest.NewRecorder(), req, &got)
		if err != nil {
			var p *edge.Problem
			if !errors.As(err, &p) || p.Status < 400 || p.Status > 499 || p.Code == "" {
				t.Fatalf("body %q: error %v is not a 4xx problem", body, err)
			}
			return
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &keys); err != nil {
			t.Fatalf("accepted %q, which is no JSON object: %v", body, err)
		}
		for k := range keys {
			switch k {
			case "url", "alias", "expires_at", "expires_in":
			default:
				t.Fatalf("accepted %q with the key %q", body, k)
			}
		}
		if n := strings.Count(body, `"`); n < 2*len(keys) {
			t.Fatalf("accepted %q: fewer quotes than keys", body)
		}
		var want CreateRequest
		if err := json.Unmarshal([]byte(body), &want); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
		}
		if !equalRequests(got, want) {
			t.Fatalf("body %q decoded as %+v, encoding/json reads %+v", body, got, want)
		}
	})
}

func equalRequests(a, b CreateRequest) bool {
	if a.URL != b.URL || a.Alias != b.Alias || a.ExpiresAt != b.ExpiresAt || (a.ExpiresIn == nil) != (b.ExpiresIn == nil) {
		return false
	}
	return a.ExpiresIn == nil || *a.ExpiresIn == *b.ExpiresIn
}
