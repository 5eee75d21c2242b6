package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
)

// This file holds the machinery of the contract tests: a real server built
// by app.New over SQLite, the API document it serves, and a check of every
// request and response against that document. contract_cases_test.go holds
// the cases.

// contractServer is a running Shortlinks server.
type contractServer struct {
	url string
	app *app.App // nil when the server was not built by app.New
}

// startContractApp serves the service built with app.New over a fresh
// SQLite database on a loopback port until the test ends, without rate
// limits or access logs unless set says otherwise.
func startContractApp(t *testing.T, set ...func(*config.Config)) *contractServer {
	t.Helper()
	quiet := func(c *config.Config) { c.CreateRate, c.ReportRate, c.LogRequests = 0, 0, "none" }
	s := apptest.Start(t, slog.New(slog.NewTextHandler(t.Output(), nil)), app.Telemetry{}, append([]func(*config.Config){quiet}, set...)...)
	return &contractServer{url: s.URL, app: s.App}
}

// key makes an API key on the server and returns its token.
func (s *contractServer) key(t *testing.T, name string, admin bool) string {
	t.Helper()
	_, token, err := s.app.Keys().Create(t.Context(), name, admin)
	if err != nil {
		t.Fatalf("create key %s: %v", name, err)
	}
	return token
}

// issue makes an API key as an operator would, with the scopes and
// expiry p gives, and returns its token.
func (s *contractServer) issue(t *testing.T, p apikey.IssueParams) string {
	t.Helper()
	_, token, err := s.app.Keys().Issue(t.Context(), link.Principal{Admin: true, Scopes: link.AllScopes}, p)
	if err != nil {
		t.Fatalf("issue key %s: %v", p.Name, err)
	}
	return token
}

// revokedKey makes an API key and revokes it.
func (s *contractServer) revokedKey(t *testing.T) string {
	t.Helper()
	k, token, err := s.app.Keys().Create(t.Context(), "revoked", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.Keys().Revoke(t.Context(), k.ID); err != nil {
		t.Fatal(err)
	}
	return token
}

// create makes a link through the API client, outside the contract checks.
func (s *contractServer) create(t *testing.T, key string, req httpapi.CreateRequest) httpapi.LinkJSON {
	t.Helper()
	l, err := httpapi.NewClient(s.url, key, nil).Create(t.Context(), req)
	if err != nil {
		t.Fatalf("create %+v: %v", req, err)
	}
	return l
}

// contractOutcome is one kind of answer an operation gives.
type contractOutcome struct {
	op     string // "METHOD /path/template", as in the document
	status int
	code   string // the error code; empty for answers without one
}

func (o contractOutcome) String() string {
	if o.code == "" {
		return fmt.Sprintf("%s → %d", o.op, o.status)
	}
	return fmt.Sprintf("%s → %d %s", o.op, o.status, o.code)
}

// contract is the API document and what the tests saw of it.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options
	client *http.Client

	mu      sync.Mutex
	seen    map[contractOutcome]bool
	skipped map[string]string // operation → why its cases did not run
}

// loadContract fetches the document the server serves and prepares to check
// requests and responses against it.
func loadContract(t *testing.T, s *contractServer) *contract {
	t.Helper()
	resp, err := http.Get(s.url + "/api/v1/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/openapi.yaml: %d %v", resp.StatusCode, err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load the served document: %v", err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("the served document is not valid OpenAPI: %v", err)
	}
	// The document's server is relative ("/"), so the paths alone decide
	// the operation, whichever test server answers.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}

	// The body decoders are kin-openapi's own registry: the media types the
	// document uses beyond JSON, YAML and plain text are checked as text.
	for _, mt := range []string{"text/html", "image/png", "image/svg+xml", "application/x-ndjson"} {
		openapi3filter.RegisterBodyDecoder(mt, openapi3filter.FileBodyDecoder)
	}
	return &contract{
		doc:    doc,
		router: router,
		opts: &openapi3filter.Options{
			IncludeResponseStatus: true, // an undocumented status is a failure
			AuthenticationFunc:    bearerPresent,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{
				openapi3.WithStringFormatValidator("uri", openapi3.NewCallbackValidator(absoluteURI)),
			},
		},
		client: &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		seen:    map[contractOutcome]bool{},
		skipped: map[string]string{},
	}
}

// bearerPresent is what the document can say about a key: that the request
// sends one in the bearer scheme. Whether the server knows it is the server's
// business.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, in.SecurityScheme.Scheme) || strings.TrimSpace(token) == "" {
		return in.NewError(errors.New("no bearer token"))
	}
	return nil
}

// absoluteURI checks format: uri, which kin-openapi leaves unchecked.
func absoluteURI(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URI", s)
	}
	return nil
}

// contractCall is one request and the answer the server must give.
type contractCall struct {
	method, path string
	body         string
	contentType  string
	key          string   // sent as a bearer token when not empty
	header       []string // more request headers: name, value, name, value...

	// docRefuses says the document itself forbids the request, as for bad
	// input its schemas can express; the check is that it does refuse it.
	docRefuses bool

	status int    // the status the server must answer with
	code   string // the error code it must give; empty: none checked
}

func (k contractCall) String() string {
	s := k.method + " " + k.path
	if k.body != "" {
		b := k.body
		if len(b) > 80 {
			b = b[:77] + "..."
		}
		s += " " + b
	}
	return s
}

func (k contractCall) request(t *testing.T, base string) *http.Request {
	t.Helper()
	var body io.Reader
	if k.body != "" {
		body = strings.NewReader(k.body)
	}
	req, err := http.NewRequestWithContext(t.Context(), k.method, base+k.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if k.contentType != "" {
		req.Header.Set("Content-Type", k.contentType)
	}
	if k.key != "" {
		req.Header.Set("Authorization", "Bearer "+k.key)
	}
	for i := 0; i+1 < len(k.header); i += 2 {
		req.Header.Add(k.header[i], k.header[i+1])
	}
	return req
}

// contractResponse is what the server answered.
type contractResponse struct {
	status int
	header http.Header
	body   []byte
	code   string // the error code, for JSON errors
}

// decode unmarshals a JSON body into v.
func (r contractResponse) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do checks k against the document, sends it to the server at base, checks
// the answer against k and the document, and records the outcome.
func (c *contract) do(t *testing.T, base string, k contractCall) contractResponse {
	t.Helper()
	probe := k.request(t, base)
	route, params, err := c.router.FindRoute(probe)
	if err != nil {
		t.Fatalf("%s: not an operation of the document: %v", k, err)
	}
	// The router takes a whole segment for {code}, so it finds the
	// redirect for a preview, /{code}+; the document has both.
	if code, ok := strings.CutSuffix(params["code"], "+"); ok && route.Path == "/{code}" {
		item := c.doc.Paths.Value("/{code}+")
		route = &routers.Route{Spec: c.doc, Path: "/{code}+", PathItem: item, Method: route.Method, Operation: item.GetOperation(route.Method)}
		params = map[string]string{"code": code}
	}
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: c.opts}
	verr := openapi3filter.ValidateRequest(t.Context(), in)
	switch {
	case k.docRefuses && verr == nil:
		t.Errorf("%s: the document allows this request, which the server refuses; tighten the schema or the case", k)
	case !k.docRefuses && verr != nil:
		t.Errorf("%s: the document refuses this request: %v", k, verr)
	}

	resp, err := c.client.Do(k.request(t, base))
	if err != nil {
		t.Fatalf("%s: %v", k, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: read body: %v", k, err)
	}
	got := contractResponse{status: resp.StatusCode, header: resp.Header, body: body}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && resp.StatusCode >= 400 {
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil {
			got.code = e.Error.Code
		}
	}
	if got.status != k.status || (k.code != "" && got.code != k.code) {
		t.Errorf("%s: answered %d %q, want %d %q; body %s", k, got.status, got.code, k.status, k.code, body)
	}

	op := route.Method + " " + route.Path
	documented := route.Operation.Responses.Status(got.status)
	if documented == nil {
		t.Errorf("%s: answered %d, which the document does not list for %s", k, got.status, op)
		return got
	}
	// kin-openapi skips HEAD and some redirect statuses entirely, so the
	// required headers are checked here for every answer.
	for name, h := range documented.Value.Headers {
		if h.Value.Required && resp.Header.Get(name) == "" {
			t.Errorf("%s: answered %d without the %s header the document requires", k, got.status, name)
		}
	}
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 got.status,
		Header:                 resp.Header,
		Options:                c.opts,
	}
	rin.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(t.Context(), rin); err != nil {
		t.Errorf("%s: the answer does not match the document: %v", k, err)
	}

	c.mu.Lock()
	c.seen[contractOutcome{op: op, status: got.status, code: got.code}] = true
	c.mu.Unlock()
	return got
}

// skip records that the cases of some operations cannot run, and skips
// the test.
func (c *contract) skip(t *testing.T, why string, ops ...string) {
	t.Helper()
	c.mu.Lock()
	for _, op := range ops {
		c.skipped[op] = why
	}
	c.mu.Unlock()
	t.Skip(why)
}

// documentedOutcomes lists every answer the document promises: each
// status of each operation and, for errors, each code it names.
func (c *contract) documentedOutcomes() []contractOutcome {
	var out []contractOutcome
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status, ref := range op.Responses.Map() {
				n, err := strconv.Atoi(status)
				if err != nil {
					continue // "default" or a range: nothing to exercise
				}
				o := contractOutcome{op: method + " " + path, status: n}
				var codes []string
				if mt := ref.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
					codes = errorCodes(mt.Schema.Value)
				}
				if len(codes) == 0 {
					out = append(out, o)
				}
				for _, code := range codes {
					o.code = code
					out = append(out, o)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b contractOutcome) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// errorCodes returns the codes an error schema enumerates, through allOf.
func errorCodes(s *openapi3.Schema) []string {
	var codes []string
	if e := s.Properties["error"]; e != nil && e.Value != nil {
		if c := e.Value.Properties["code"]; c != nil && c.Value != nil {
			for _, v := range c.Value.Enum {
				codes = append(codes, fmt.Sprint(v))
			}
		}
	}
	for _, sub := range s.AllOf {
		codes = append(codes, errorCodes(sub.Value)...)
	}
	return codes
}

// checkCoverage fails for every documented answer that no case produced,
// except those of skipped operations.
func (c *contract) checkCoverage(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.documentedOutcomes() {
		if _, ok := c.skipped[o.op]; ok {
			continue
		}
		if !c.seen[o] {
			t.Errorf("no case produced %s, which the document lists", o)
		}
	}
	for _, op := range slices.Sorted(maps.Keys(c.skipped)) {
		t.Logf("not checked: %s: %s", op, c.skipped[op])
	}
}
