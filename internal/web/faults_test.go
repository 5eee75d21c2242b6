package web_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/web"
)

// fakeLinks records what the page asks for and fails as told. It stands in
// for storage faults that a real SQLite file cannot be made to show.
type fakeLinks struct {
	got link.CreateParams
	err error
}

func (f *fakeLinks) Create(_ context.Context, p link.CreateParams) (link.Link, error) {
	f.got = p
	if f.err != nil {
		return link.Link{}, f.err
	}
	return link.Link{Code: "abc", URL: p.URL, CreatedAt: time.Now()}, nil
}

func newPages(t *testing.T, f *fakeLinks, logs *bytes.Buffer) http.Handler {
	t.Helper()
	p, err := web.New(f, slog.New(slog.NewTextHandler(logs, nil)), web.Options{BaseURL: "https://sho.rt/"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{$}", p.Shorten)
	return mux
}

func TestCreateParams(t *testing.T) {
	tests := []struct {
		expires string
		want    time.Duration
	}{
		{"", 0},
		{"3600", time.Hour},
		{"86400", 24 * time.Hour},
		{"604800", 7 * 24 * time.Hour},
		{"2592000", 30 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.expires, func(t *testing.T) {
			f := &fakeLinks{}
			rec := post(newPages(t, f, new(bytes.Buffer)), url.Values{"url": {"https://example.com/x"}, "alias": {" Ali "}, "expires_in": {tt.expires}})
			if rec.Code != http.StatusCreated {
				t.Fatalf("status %d", rec.Code)
			}
			want := link.CreateParams{URL: "https://example.com/x", Alias: "Ali", ExpiresIn: tt.want}
			if f.got != want {
				t.Errorf("Create(%+v), want %+v", f.got, want)
			}
			if !f.got.Owner.Anonymous() {
				t.Errorf("the page created a link as key %d", f.got.Owner.KeyID)
			}
			p := parse(t, rec.Body)
			if got := attr(p.byID("short-url"), "href"); got != "https://sho.rt/abc" {
				t.Errorf("short link %q, want https://sho.rt/abc", got)
			}
		})
	}
}

func TestCreateFaults(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantCode  int
		wantMsg   string
		wantRetry string
		wantLog   string
	}{
		{"storage down", fmt.Errorf("insert: %w", link.ErrUnavailable), 503, link.ErrUnavailable.Message, "1", "storage unavailable"},
		{"a bug", errors.New("disk on fire at /var/lib/x"), 500, "Something went wrong on our side", "", "disk on fire"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			rec := post(newPages(t, &fakeLinks{err: tt.err}, &logs), url.Values{"url": {"https://example.com/"}})
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantCode)
			}
			checkPageHeaders(t, rec.Header())
			if got := rec.Header().Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After %q, want %q", got, tt.wantRetry)
			}
			body := rec.Body.String()
			p := parse(t, strings.NewReader(body))
			summary := p.byID("error-summary")
			if hasAttr(summary, "hidden") || !strings.Contains(text(summary), tt.wantMsg) {
				t.Errorf("summary %q, want %q", text(summary), tt.wantMsg)
			}
			if strings.Contains(body, "disk on fire") {
				t.Error("the page shows the internal error")
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log %q does not mention %q", logs.String(), tt.wantLog)
			}
		})
	}
}

func TestFormTooLarge(t *testing.T) {
	h := newPages(t, &fakeLinks{}, new(bytes.Buffer))
	rec := post(h, url.Values{"url": {"https://example.com/" + strings.Repeat("a", 70<<10)}})
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", rec.Code)
	}
	checkPageHeaders(t, rec.Header())
}
