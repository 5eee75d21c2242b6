package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzCreate sends arbitrary bodies to POST /api/v1/links on a real server
// over SQLite: every answer must be a 201 with a link, or a 4xx with the
// error schema. Nothing a client sends may cause a 500.
func FuzzCreate(f *testing.F) {
	for _, s := range []string{
		`{"url": "https://example.com/"}`,
		`{"url": "https://example.com/", "alias": "fuzzed", "expires_in": 60}`,
		`{"url": "https://example.com/", "expires_at": "2099-01-01T00:00:00Z"}`,
		`{"url": 1}`, `[]`, `null`, `{"url": "javascript:alert(1)"}`, `{"expires_in": 1e400}`, `{"url":"\u0000"}`,
	} {
		f.Add(s)
	}
	fx := newHandlerFixture(f)
	f.Fuzz(func(t *testing.T, body string) {
		fx.t = t
		rec := fx.create(body)
		switch {
		case rec.Code == http.StatusCreated:
			var l struct{ Code, URL string }
			if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil || l.Code == "" || l.URL == "" {
				t.Fatalf("201 with body %s", rec.Body)
			}
		case rec.Code >= 400 && rec.Code < 500:
			errorCode(t, rec)
		default:
			t.Fatalf("body %q: status %d %s", body, rec.Code, rec.Body)
		}
	})
}
