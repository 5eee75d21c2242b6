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
	"github.com/shortlinks/shortlinks/internal/shortcode"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
	"github.com/shortlinks/shortlinks/internal/testenv"
)

// newQRServer serves the API with this package's Encoder, on a real SQLite
// database in a temporary directory and a clock the test moves.
func newQRServer(t *testing.T) (http.Handler, *testenv.Clock) {
	t.Helper()
	db := sqlitetest.Open(t)
	perm, err := shortcode.NewPermutation(bytes.Repeat([]byte{7}, shortcode.KeyLength))
	if err != nil {
		t.Fatal(err)
	}
	clk := testenv.NewClock(time.Now())
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
		{"png largest", "/api/v1/links/guide/qr?size=2048", "", 200, "image/png", "", 2048},
		{"svg", "/api/v1/links/guide/qr?format=svg", "", 200, "image/svg+xml", "", 0},
		{"svg from a browser", "/api/v1/links/guide/qr?format=svg", "image/avif,image/webp,*/*", 200, "image/svg+xml", "", 0},
		{"unknown code", "/api/v1/links/nosuch/qr", "", 404, "application/json", "not_found", 0},
		{"invalid code", "/api/v1/links/a!/qr", "", 404, "application/json", "not_found", 0},
		{"expired", "/api/v1/links/brief/qr?format=svg", "", 410, "application/json", "link_expired", 0},
		{"bad format", "/api/v1/links/guide/qr?format=gif", "", 400, "application/json", "invalid_format", 0},
		{"size too small", "/api/v1/links/guide/qr?size=63", "", 400, "application/json", "invalid_size", 0},
		{"size too large", "/api/v1/links/guide/qr?size=2049", "", 400, "application/json", "invalid_size", 0},
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
