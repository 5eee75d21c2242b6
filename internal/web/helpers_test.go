package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
)

const testBase = "https://sho.rt"

// testConfig is the configuration of a server on a fresh SQLite database in
// a temporary directory at testBase, as set changes it.
func testConfig(t *testing.T, set ...func(*config.Config)) config.Config {
	t.Helper()
	return apptest.Config(t, append([]func(*config.Config){func(c *config.Config) { c.BaseURL = testBase }}, set...)...)
}

// newApp builds the real service from cfg.
func newApp(t *testing.T, cfg config.Config) *app.App {
	t.Helper()
	a, err := app.New(t.Context(), cfg, slog.New(slog.NewTextHandler(t.Output(), nil)), app.Telemetry{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// newHandler is the real service's handler on a fresh database.
func newHandler(t *testing.T, set ...func(*config.Config)) http.Handler {
	t.Helper()
	return newApp(t, testConfig(t, set...)).Handler()
}

// post sends the form as a browser on the page's own origin would.
func post(h http.Handler, form url.Values, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func get(h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// page is a parsed HTML document.
type page struct {
	t    *testing.T
	root *html.Node
}

func parse(t *testing.T, r io.Reader) page {
	t.Helper()
	root, err := html.Parse(r)
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	return page{t, root}
}

// all returns the elements for which match is true, in document order.
func (p page) all(match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for n := range p.root.Descendants() {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
	}
	return out
}

func (p page) tag(name string) []*html.Node {
	return p.all(func(n *html.Node) bool { return n.Data == name })
}

// byID returns the element with the id, failing the test if there is none.
func (p page) byID(id string) *html.Node {
	p.t.Helper()
	found := p.all(func(n *html.Node) bool { return attr(n, "id") == id })
	if len(found) != 1 {
		p.t.Fatalf("%d elements with id %q, want 1", len(found), id)
	}
	return found[0]
}

func (p page) has(id string) bool {
	return len(p.all(func(n *html.Node) bool { return attr(n, "id") == id })) > 0
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, name string) bool {
	for _, a := range n.Attr {
		if a.Key == name {
			return true
		}
	}
	return false
}

// text is the element's text with runs of white space collapsed.
func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
