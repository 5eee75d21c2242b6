package qr

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/routes"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/shortcode"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
)

// newQRServer serves the API with this package's Encoder, on a real SQLite
// database in a temporary directory and a clock the test moves.
func newQRServer(t *testing.T) (http.Handler, *servicetest.Clock) {
	t.Helper()
	db := sqlitetest.Open(t)
	perm, err := shortcode.NewPermutation(bytes.Repeat([]byte{7}, shortcode.KeyLength))
	if err != nil {
		t.Fatal(err)
	}
	clk := servicetest.NewClock(time.Now())
	links := link.NewService(db, db, shortcode.NewGenerator(perm, db, 0), link.Options{
		Reserved: routes.ReservedPaths(),
		Now:      clk.Now,
	})
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	srv := httpapi.New(links, apikey.NewService(db), log, httpapi.Options{
		BaseURL: "https://sho.rt",
		QR:      New(),
	})
	return routes.New(srv, log, routes.Options{}), clk
}

func mustCreate(t *testing.T, h http.Handler, body string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/links", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create %s: status %d: %s", body, rec.Code, rec.Body)
	}
}

func TestEndpoint(t *testing.T) {
	h, clk := newQRServer(t)
	mustCreate(t, h, `{"url":"https://example.com/docs","alias":"guide"}`)
	mustCreate(t, h, `{"url":"https://example.com/brief","alias":"brief","expires_in":3600}`)
	clk.Add(2 * time.Hour)

	tests := []struct {
		name      string
		path      string
		accept    string
		wantCode  int
		wantType  string
		wantError string // the error code in the JSON body
		wantSize  int    // PNG: pixels a side
	}{
		{"png by default", "/api/v1/links/guide/qr", "", 200, "image/png", "", httpapi.DefaultQRSize},
		{"png sized", "/api/v1/links/guide/qr?format=png&size=100", "", 200, "image/png", "", 100},
		{"png smallest", "/api/v1/links/guide/qr?size=64", "", 200, "image/png", "", 64},
		{"png largest", "/api/v1/links/guide/qr?size=1024", "", 200, "image/png", "", httpapi.MaxQRSize},
		{"svg", "/api/v1/links/guide/qr?format=svg", "", 200, "image/svg+xml", "", 0},
		{"svg from a browser", "/api/v1/links/guide/qr?format=svg", "image/avif,image/webp,*/*", 200, "image/svg+xml", "", 0},
		{"unknown code", "/api/v1/links/nosuch/qr", "", 404, "application/json", "not_found", 0},
		{"invalid code", "/api/v1/links/a!/qr", "", 404, "application/json", "not_found", 0},
		{"expired", "/api/v1/links/brief/qr?format=svg", "", 410, "application/json", "link_expired", 0},
		{"bad format", "/api/v1/links/guide/qr?format=gif", "", 400, "application/json", "invalid_format", 0},
		{"size too small", "/api/v1/links/guide/qr?size=63", "", 400, "application/json", "invalid_size", 0},
		{"size too large", "/api/v1/links/guide/qr?size=1025", "", 400, "application/json", "invalid_size", 0},
		{"size not a number", "/api/v1/links/guide/qr?size=big", "", 400, "application/json", "invalid_size", 0},
		{"error as JSON for a browser too", "/api/v1/links/nosuch/qr", "text/html,*/*", 404, "application/json", "not_found", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantCode, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type %q, want %q", got, tt.wantType)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			body := rec.Body.Bytes()
			switch tt.wantType {
			case "image/png":
				img := decodePNG(t, body, tt.wantSize)
				dim := len(mustMatrix(t, New(), "https://sho.rt/guide"))
				checkStructure(t, gridFromPNG(t, img, dim))
			case "image/svg+xml":
				csp := rec.Header().Get("Content-Security-Policy")
				if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "sandbox") {
					t.Errorf("Content-Security-Policy %q, want default-src 'none' and sandbox", csp)
				}
				dim := len(mustMatrix(t, New(), "https://sho.rt/guide"))
				checkStructure(t, gridFromSVG(t, body, dim))
			default:
				var e struct {
					Error struct{ Code string } `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != tt.wantError {
					t.Errorf("error body %s, want code %q", body, tt.wantError)
				}
			}
		})
	}
}

// TestEndpointContent reads the served image back to the text it encodes.
func TestEndpointContent(t *testing.T) {
	h, _ := newQRServer(t)
	mustCreate(t, h, `{"url":"https://example.com/x","alias":"Xy-_9"}`)
	for _, format := range []string{"svg", "png"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/links/Xy-_9/qr?format="+format, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", format, rec.Code, rec.Body)
		}
		dim := len(mustMatrix(t, New(), "https://sho.rt/Xy-_9"))
		var g [][]bool
		if format == "svg" {
			g = gridFromSVG(t, rec.Body.Bytes(), dim)
		} else {
			g = gridFromPNG(t, decodePNG(t, rec.Body.Bytes(), httpapi.DefaultQRSize), dim)
		}
		checkStructure(t, g)
		if got := decodeSmall(t, g); got != "https://sho.rt/Xy-_9" {
			t.Errorf("%s encodes %q, want https://sho.rt/Xy-_9", format, got)
		}
	}
}

// TestEndpointCaching checks that an image is drawn once per client: it
// carries an ETag and a Cache-Control lifetime, and a request that names
// the tag is answered 304 with no image. Tags differ with what is drawn.
func TestEndpointCaching(t *testing.T) {
	h, _ := newQRServer(t)
	mustCreate(t, h, `{"url":"https://example.com/docs","alias":"guide"}`)
	mustCreate(t, h, `{"url":"https://example.com/other","alias":"other"}`)
	get := func(path, inm string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	first := get("/api/v1/links/guide/qr?size=300", "")
	etag := first.Header().Get("ETag")
	if first.Code != 200 || !strings.HasPrefix(etag, `"`) || first.Header().Get("Cache-Control") != "public, max-age=86400" {
		t.Fatalf("first: status %d, ETag %q, Cache-Control %q", first.Code, etag, first.Header().Get("Cache-Control"))
	}
	for _, inm := range []string{etag, "W/" + etag, `"nope", ` + etag, "*"} {
		rec := get("/api/v1/links/guide/qr?size=300", inm)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != etag {
			t.Errorf("If-None-Match %s: status %d, %d bytes, ETag %q; want 304, none, %s", inm, rec.Code, rec.Body.Len(), rec.Header().Get("ETag"), etag)
		}
	}
	seen := map[string]string{etag: "png 300 guide"}
	for name, path := range map[string]string{
		"png 301 guide": "/api/v1/links/guide/qr?size=301",
		"svg guide":     "/api/v1/links/guide/qr?format=svg",
		"png 300 other": "/api/v1/links/other/qr?size=300",
	} {
		rec := get(path, etag)
		if rec.Code != 200 {
			t.Errorf("%s with another image's tag: status %d, want 200", name, rec.Code)
		}
		tag := rec.Header().Get("ETag")
		if prev, ok := seen[tag]; ok {
			t.Errorf("%s has the tag of %s", name, prev)
		}
		seen[tag] = name
	}
	if rec := get("/api/v1/links/nosuch/qr", "*"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown code with If-None-Match *: status %d, want 404", rec.Code)
	}
}
