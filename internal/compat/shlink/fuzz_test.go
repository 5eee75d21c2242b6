package shlink

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/shortlinks/shortlinks/internal/link"
)

// FuzzCreateRequest feeds untrusted bodies of POST /rest/v3/short-urls
// through decoding and the mapping onto our create parameters: neither may
// panic, every refusal is a Shlink problem of status 400 or 413, and what
// is accepted keeps the longUrl and slug it was given.
func FuzzCreateRequest(f *testing.F) {
	for _, seed := range []string{
		`{"longUrl":"https://example.com/","customSlug":"abc","validUntil":"2031-01-02T03:04:05+02:00"}`,
		`{"longUrl":"https://example.com/","pathPrefix":"p-","customSlug":"x","tags":[],"title":null,"maxVisits":null}`,
		`{"longUrl":"https://example.com/","validUntil":"2031-01-02","findIfExists":true,"domain":"DEFAULT"}`,
		`{"longUrl":1}`, `{"maxVisits":"many"}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	a := New(nil, nil, slog.New(slog.DiscardHandler), Options{BaseURL: "https://sho.rt"})
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/rest/v3/short-urls", bytes.NewReader(body))
		var req createRequest
		err := decodeBody(w, r, &req)
		if err == nil {
			var p link.CreateParams
			p, err = a.params(req, link.Principal{KeyID: 1})
			if err == nil && (p.URL != req.LongURL || string(p.Alias) != req.PathPrefix+req.CustomSlug) {
				t.Fatalf("params %+v from %+v", p, req)
			}
		}
		var pr *Problem
		if err != nil && (!errors.As(err, &pr) || (pr.Status != 400 && pr.Status != 413)) {
			t.Fatalf("refusal %v is not a 400 or 413 problem", err)
		}
	})
}
