package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/qr"
	"github.com/shortlinks/shortlinks/internal/routes"
	"github.com/shortlinks/shortlinks/internal/web"
)

// loadDocument parses and validates the embedded API document, examples
// included.
func loadDocument(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDocument)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// fullServer is the route table over a Server, with every optional route
// turned on. Only the handlers that need no link service may be called.
func fullServer(t *testing.T) *routes.Table {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	pages, err := web.New(nil, log, web.Options{BaseURL: "https://sho.rt", QRURL: routes.QRURL})
	if err != nil {
		t.Fatal(err)
	}
	errs := edge.NewRenderer(log, pages, routes.APIPrefix)
	s := New(nil, nil, log, Options{
		BaseURL: "https://sho.rt",
		QR:      qr.New(),
		Errors:  errs,
	})
	return routes.New(s, log, routes.Options{Pages: pages, Errors: errs, Metrics: http.NotFoundHandler()})
}

// notDocumented are the routes openapi.yaml leaves out on purpose.
var notDocumented = map[string]string{
	"GET /static/": "static files of the web page, not an API",
	"/":            "the catch-all that answers 404 for paths with no route",
	// A method-less pattern for the bulk path would clash with the
	// methods of /api/v1/links/{code}, so it takes them one by one.
	"GET /api/v1/links/bulk":    "405 for the bulk path",
	"PUT /api/v1/links/bulk":    "405 for the bulk path",
	"PATCH /api/v1/links/bulk":  "405 for the bulk path",
	"DELETE /api/v1/links/bulk": "405 for the bulk path",
}

// servedWithin are operations of openapi.yaml that a route of another
// pattern serves: a wildcard is a whole path segment.
var servedWithin = map[string]string{
	"GET /{code}+": "GET /{code}",
}

// docPath turns a ServeMux path pattern into the document's path template.
func docPath(pattern string) string {
	return strings.Replace(pattern, "{$}", "", 1)
}

// TestRoutesMatchDocument checks that every route in the route table is an
// operation of openapi.yaml and every operation there has a route.
func TestRoutesMatchDocument(t *testing.T) {
	doc := loadDocument(t)
	table := fullServer(t).Patterns()

	routed := map[string]bool{} // "METHOD /path" in the document's terms
	for _, p := range table {
		if _, ok := notDocumented[p]; ok {
			continue
		}
		method, path, hasMethod := strings.Cut(p, " ")
		if !hasMethod {
			// A method-less pattern answers 405 for a path the document
			// must list.
			if doc.Paths.Value(docPath(p)) == nil {
				t.Errorf("route %q answers 405 for a path openapi.yaml does not list", p)
			}
			continue
		}
		path = docPath(path)
		routed[method+" "+path] = true
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("route %q is not in openapi.yaml", p)
		}
	}

	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			op := method + " " + path
			// The ServeMux answers HEAD with the GET handler.
			if within, ok := servedWithin[op]; ok {
				op = within
			}
			if !routed[op] && !(method == http.MethodHead && routed["GET "+path]) {
				t.Errorf("openapi.yaml documents %s, which no route serves", op)
			}
		}
	}
}

// TestUndocumentedMethods checks that every path in the document answers a
// method it does not list with 405, an Allow header naming exactly the
// methods the document lists (and HEAD with GET), and the documented body.
func TestUndocumentedMethods(t *testing.T) {
	doc := loadDocument(t)
	resp := doc.Components.Responses["MethodNotAllowed"]
	if resp == nil {
		t.Fatal("openapi.yaml has no MethodNotAllowed response")
	}
	schema := resp.Value.Content.Get("application/json").Schema.Value
	h := fullServer(t)

	for path, item := range doc.Paths.Map() {
		var allowed []string
		for method := range item.Operations() {
			allowed = append(allowed, method)
			if method == http.MethodGet && item.Head == nil {
				allowed = append(allowed, http.MethodHead)
			}
		}
		slices.Sort(allowed)
		target := strings.ReplaceAll(path, "{code}", "Xk3p9Qa")

		for _, method := range []string{http.MethodPut, http.MethodPatch} {
			if item.GetOperation(method) != nil {
				continue
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: status %d, want 405", method, target, rec.Code)
				continue
			}
			got := strings.Split(rec.Header().Get("Allow"), ", ")
			slices.Sort(got)
			if !slices.Equal(got, allowed) {
				t.Errorf("%s %s: Allow %q, want the documented %q", method, target, got, allowed)
			}
			var body any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Errorf("%s %s: body is not JSON: %v", method, target, err)
				continue
			}
			if err := schema.VisitJSON(body); err != nil {
				t.Errorf("%s %s: body does not match MethodNotAllowed: %v", method, target, err)
			}
		}
	}
}

// TestServesDocument checks that the server serves openapi.yaml as it is.
func TestServesDocument(t *testing.T) {
	rec := httptest.NewRecorder()
	fullServer(t).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.yaml", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/openapi.yaml: status %d", rec.Code)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/yaml" {
		t.Errorf("Content-Type %q, want application/yaml", got)
	}
	if rec.Body.String() != string(openAPIDocument) {
		t.Error("the served document differs from openapi.yaml")
	}
}
