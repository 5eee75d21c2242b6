package transfer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"":                              0,
		"120":                           2 * time.Minute,
		" 0 ":                           0,
		"Fri, 02 Jan 2026 03:05:05 GMT": time.Minute,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0, // already past
		"soon":                          0,
		"-5":                            0,
	} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

// TestNotJSONError has a proxy in front of the peer answer with HTML: the
// error says what came back, briefly, and a 401 still means the
// credentials.
func TestNotJSONError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte("<html>\n<head><title>401 Authorization Required</title></head>\n<body>nginx</body></html>"))
	}))
	defer srv.Close()
	_, err := OpenKutt(context.Background(), KuttOptions{URL: srv.URL, APIKey: "k", HTTP: fastRetries})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("%v, want ErrUnauthorized", err)
	}
	errContains(t, err, "401 Authorization Required")
	var ae *APIError
	if errors.As(err, &ae) && len(ae.Message) > 201+len("…") {
		t.Errorf("message of %d bytes", len(ae.Message))
	}
}

// TestNotTheDocumentedJSON has a server answer 200 with something that is
// not a page of the API: a fatal error, not an empty import.
func TestNotTheDocumentedJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>a login page</html>"))
	}))
	defer srv.Close()
	_, err := OpenShlink(context.Background(), ShlinkOptions{URL: srv.URL, APIKey: "k", HTTP: fastRetries})
	errContains(t, err, "not the JSON the API documents")
}
