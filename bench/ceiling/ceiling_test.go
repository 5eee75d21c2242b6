package ceiling_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/shortlinks/shortlinks/bench/ceiling"
	"github.com/shortlinks/shortlinks/internal/config"
)

// TestHandlerAnswersAsShortlinks checks that the ceiling sends what
// Shortlinks sends by default, so that the two do the same work.
func TestHandlerAnswersAsShortlinks(t *testing.T) {
	h := ceiling.Handler(map[string]string{"abc1234": "https://example.com/a?b=c"}, config.Default().CacheControl)
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/abc1234", config.Default().RedirectStatus},
		{http.MethodHead, "/abc1234", config.Default().RedirectStatus},
		{http.MethodGet, "/nothere", http.StatusNotFound},
		{http.MethodPost, "/abc1234", http.StatusNotFound},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.status {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.status)
			continue
		}
		if tt.status != config.Default().RedirectStatus {
			continue
		}
		if got := rec.Header().Get("Location"); got != "https://example.com/a?b=c" {
			t.Errorf("%s %s: Location %q", tt.method, tt.path, got)
		}
		if got, want := rec.Header().Get("Cache-Control"), config.Default().CacheControl; got != want {
			t.Errorf("%s %s: Cache-Control %q, Shortlinks sends %q", tt.method, tt.path, got, want)
		}
	}
}
