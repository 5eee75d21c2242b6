package shlink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// contract is Shlink's published API document (testdata/swagger, see its
// README) and a server to hold to it.
type contract struct {
	srv    *server
	router routers.Router
	opts   *openapi3filter.Options
}

// loadShlinkDocument parses and validates the pinned Shlink document.
func loadShlinkDocument(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	doc, err := loader.LoadFromFile("testdata/swagger/swagger.json")
	if err != nil {
		t.Fatalf("load Shlink's document: %v", err)
	}
	// Its server is a template for any host, whose empty default
	// kin-openapi refuses; the paths alone decide the operation.
	doc.Servers = nil
	// Some of its examples break its own schemas (a null referer, a null
	// visitLocation), so only the document's structure is checked.
	if err := doc.Validate(t.Context(), openapi3.DisableExamplesValidation()); err != nil {
		t.Fatalf("Shlink's document is not valid OpenAPI: %v", err)
	}
	return doc
}

func newContract(t *testing.T, srv *server) *contract {
	t.Helper()
	doc := loadShlinkDocument(t)
	router, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation())
	if err != nil {
		t.Fatal(err)
	}
	return &contract{srv: srv, router: router, opts: &openapi3filter.Options{
		IncludeResponseStatus: true,
		AuthenticationFunc:    apiKeyPresent,
	}}
}

// apiKeyPresent is what the document says of a key: that X-Api-Key is
// sent. Whether the server knows it is the server's business.
func apiKeyPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.RequestValidationInput.Request.Header.Get(in.SecurityScheme.Name) == "" {
		return in.NewError(errors.New("no " + in.SecurityScheme.Name))
	}
	return nil
}

// call is one request to the server.
type call struct {
	method, path, key, body string
	// unchecked skips checking the request against the document, for a
	// request that is wrong on purpose (no key, a bad body).
	unchecked bool
}

// answer is what the server said.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the answer's body.
func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("body %q: %v", a.body, err)
	}
	return v
}

// do sends c, checks the request and the answer against the document,
// and that the answer has status want.
func (ct *contract) do(t *testing.T, c call, want int) answer {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(t.Context(), c.method, ct.srv.url+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("X-Api-Key", c.key)
	}
	route, params, err := ct.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: not an operation of Shlink's document: %v", c.method, c.path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: ct.opts}
	if !c.unchecked {
		if err := openapi3filter.ValidateRequest(t.Context(), in); err != nil {
			t.Fatalf("%s %s: the request breaks Shlink's document: %v", c.method, c.path, err)
		}
		if c.body != "" {
			req.Body = io.NopCloser(strings.NewReader(c.body))
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", c.method, c.path, resp.StatusCode, raw, want)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(raw)), Options: ct.opts,
	}
	if err := openapi3filter.ValidateResponse(t.Context(), out); err != nil {
		t.Errorf("%s %s: the answer %d %s breaks Shlink's document: %v", c.method, c.path, resp.StatusCode, raw, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: raw}
}

// problemType checks that a is a problem of Shlink's type code.
func problemType(t *testing.T, a answer, code string) map[string]any {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	p := a.json(t)
	if want := "https://shlink.io/api/error/" + code; p["type"] != want {
		t.Errorf("type %v, want %s (%s)", p["type"], want, a.body)
	}
	if p["status"] != float64(a.status) {
		t.Errorf("status member %v, want %d", p["status"], a.status)
	}
	return p
}

// TestContract drives the Shlink API through create, list, get, stats and
// delete, holding every request and answer to Shlink's document and
// checking what the answers say.
func TestContract(t *testing.T) {
	srv := startServer(t)
	ct := newContract(t, srv)
	key := srv.key(t, "shlink", false)
	other := srv.key(t, "other", false)

	t.Run("health", func(t *testing.T) {
		h := ct.do(t, call{method: "GET", path: "/rest/health"}, 200).json(t)
		if h["status"] != "pass" {
			t.Errorf("health %v, want pass", h)
		}
	})

	t.Run("auth", func(t *testing.T) {
		a := ct.do(t, call{method: "GET", path: "/rest/v3/short-urls", unchecked: true}, 401)
		problemType(t, a, "missing-authentication")
		a = ct.do(t, call{method: "GET", path: "/rest/v3/short-urls", key: "sl_NOTAKEY"}, 401)
		problemType(t, a, "invalid-api-key")
		if a.header.Get("Www-Authenticate") != "" {
			t.Errorf("a 401 to X-Api-Key challenges for %q", a.header.Get("Www-Authenticate"))
		}
	})

	var code string
	t.Run("create", func(t *testing.T) {
		u := ct.do(t, call{method: "POST", path: "/rest/v3/short-urls", key: key,
			body: `{"longUrl":"https://example.com/launch","customSlug":"launch","validUntil":"2031-05-06T07:08:09+02:00","tags":[],"findIfExists":false}`}, 200).json(t)
		if u["shortCode"] != "launch" || u["shortUrl"] != srv.url+"/launch" || u["longUrl"] != "https://example.com/launch" {
			t.Errorf("created %v", u)
		}
		if m := u["meta"].(map[string]any); m["validUntil"] != "2031-05-06T05:08:09+00:00" {
			t.Errorf("meta %v, want validUntil 2031-05-06T05:08:09+00:00", m)
		}
		u = ct.do(t, call{method: "POST", path: "/rest/v3/short-urls", key: key, body: `{"longUrl":"https://example.com/gen"}`}, 200).json(t)
		code = u["shortCode"].(string)

		// findIfExists gives back the newest match instead of a new link.
		again := ct.do(t, call{method: "POST", path: "/rest/v3/short-urls", key: key,
			body: `{"longUrl":"https://example.com/gen","findIfExists":true}`}, 200).json(t)
		if again["shortCode"] != code {
			t.Errorf("findIfExists made %v, want %s", again["shortCode"], code)
		}
		// Another key's link to the same place is not found.
		mine := ct.do(t, call{method: "POST", path: "/rest/v3/short-urls", key: other,
			body: `{"longUrl":"https://example.com/gen","findIfExists":true}`}, 200).json(t)
		if mine["shortCode"] == code {
			t.Errorf("findIfExists with another key found %s", code)
		}
	})

	t.Run("create refused", func(t *testing.T) {
		a := ct.do(t, call{method: "POST", path: "/rest/v3/short-urls", key: key,
			body: `{"longUrl":"https://example.com/other","customSlug":"launch"}`}, 400)
		if p := problemType(t, a, "non-unique-slug"); p["customSlug"] != "launch" {
			t.Errorf("non-unique-slug names %v, want launch", p["customSlug"])
		}
		a = ct.do(t, call{method: "POST", path: "/rest/v3/short-urls", key: key, body: `{"longUrl":"not a url"}`}, 400)
		// The document's create lists no longUrl among invalidElements;
		// the detail says what is wrong.
		if p := problemType(t, a, "invalid-data"); !equalJSON(p["invalidElements"], []any{}) || !strings.Contains(p["detail"].(string), "spaces") {
			t.Errorf("invalid longUrl: %v", p)
		}
		a = ct.do(t, call{method: "POST", path: "/rest/v3/short-urls", key: key,
			body: `{"longUrl":"https://example.com/x","customSlug":"api"}`}, 400)
		if p := problemType(t, a, "invalid-data"); !equalJSON(p["invalidElements"], []any{"customSlug"}) {
			t.Errorf("invalidElements %v, want [customSlug]", p["invalidElements"])
		}
		a = ct.do(t, call{method: "POST", path: "/rest/v3/short-urls", key: key,
			body: `{"longUrl":"https://example.com/x","validUntil":"soon"}`}, 400)
		problemType(t, a, "invalid-data")
		a = ct.do(t, call{method: "POST", path: "/rest/v3/short-urls", key: key, body: `{"longUrl":`, unchecked: true}, 400)
		problemType(t, a, "malformed-request-body")
	})

	t.Run("shorten", func(t *testing.T) {
		u := ct.do(t, call{method: "GET", path: "/rest/v3/short-urls/shorten?apiKey=" + key + "&longUrl=https://example.com/quick"}, 200).json(t)
		if u["longUrl"] != "https://example.com/quick" {
			t.Errorf("shortened %v", u)
		}
		a := ct.do(t, call{method: "GET", path: "/rest/v3/short-urls/shorten?apiKey=" + key + "&longUrl=https://example.com/txt&format=txt"}, 200)
		if !strings.HasPrefix(string(a.body), srv.url+"/") {
			t.Errorf("format=txt answered %q", a.body)
		}
		a = ct.do(t, call{method: "GET", path: "/rest/v3/short-urls/shorten?longUrl=https://example.com/quick", unchecked: true}, 401)
		problemType(t, a, "missing-authentication")
	})

	t.Run("list", func(t *testing.T) {
		l := ct.do(t, call{method: "GET", path: "/rest/v3/short-urls?page=1&itemsPerPage=2&orderBy=shortCode-ASC", key: key}, 200).json(t)
		page := l["shortUrls"].(map[string]any)
		p := page["pagination"].(map[string]any)
		// launch, gen, quick, txt
		if p["totalItems"] != 4.0 || p["pagesCount"] != 2.0 || p["itemsInCurrentPage"] != 2.0 || p["currentPage"] != 1.0 {
			t.Errorf("pagination %v", p)
		}
		data := page["data"].([]any)
		if len(data) != 2 || data[0].(map[string]any)["shortCode"].(string) > data[1].(map[string]any)["shortCode"].(string) {
			t.Errorf("page 1 by shortCode-ASC: %v", data)
		}
		l = ct.do(t, call{method: "GET", path: "/rest/v3/short-urls?searchTerm=LAUNCH", key: key}, 200).json(t)
		if data := l["shortUrls"].(map[string]any)["data"].([]any); len(data) != 1 || data[0].(map[string]any)["shortCode"] != "launch" {
			t.Errorf("searchTerm=LAUNCH found %v", data)
		}
		l = ct.do(t, call{method: "GET", path: "/rest/v2/short-urls?tags[]=none", key: key}, 200).json(t)
		if data := l["shortUrls"].(map[string]any)["data"].([]any); len(data) != 0 {
			t.Errorf("tags[]=none found %v", data)
		}
		// The other key sees its own link only.
		l = ct.do(t, call{method: "GET", path: "/rest/v3/short-urls", key: other}, 200).json(t)
		if n := l["shortUrls"].(map[string]any)["pagination"].(map[string]any)["totalItems"]; n != 1.0 {
			t.Errorf("other key lists %v links, want 1", n)
		}
	})

	t.Run("get", func(t *testing.T) {
		u := ct.do(t, call{method: "GET", path: "/rest/v3/short-urls/launch", key: key}, 200).json(t)
		if u["longUrl"] != "https://example.com/launch" {
			t.Errorf("got %v", u)
		}
		a := ct.do(t, call{method: "GET", path: "/rest/v3/short-urls/launch", key: other}, 404)
		if p := problemType(t, a, "short-url-not-found"); p["shortCode"] != "launch" {
			t.Errorf("not found names %v", p["shortCode"])
		}
		ct.do(t, call{method: "GET", path: "/rest/v3/short-urls/launch?domain=elsewhere.example", key: key}, 404)
		ct.do(t, call{method: "GET", path: "/rest/v3/short-urls/launch/visits?page=1&itemsPerPage=10", key: key}, 200)
		ct.do(t, call{method: "GET", path: "/rest/v3/short-urls/nothing/visits", key: key}, 404)
	})

	t.Run("stats", func(t *testing.T) {
		v := ct.do(t, call{method: "GET", path: "/rest/v3/visits", key: key}, 200).json(t)
		if !equalJSON(v["visits"], map[string]any{
			"nonOrphanVisits": map[string]any{"total": 0, "nonBots": 0, "bots": 0},
			"orphanVisits":    map[string]any{"total": 0, "nonBots": 0, "bots": 0},
		}) {
			t.Errorf("visits %v", v)
		}
		ct.do(t, call{method: "GET", path: "/rest/v3/visits/orphan", key: key}, 200)
		ct.do(t, call{method: "GET", path: "/rest/v3/tags", key: key}, 200)
		ct.do(t, call{method: "GET", path: "/rest/v3/tags/stats", key: key}, 200)
		ct.do(t, call{method: "GET", path: "/rest/v3/domains", key: key}, 200)
		a := ct.do(t, call{method: "GET", path: "/rest/v3/mercure-info", key: key}, 501)
		problemType(t, a, "mercure-not-configured")
	})

	t.Run("delete", func(t *testing.T) {
		ct.do(t, call{method: "DELETE", path: "/rest/v3/short-urls/" + code, key: other}, 404)
		ct.do(t, call{method: "DELETE", path: "/rest/v3/short-urls/" + code, key: key}, 204)
		a := ct.do(t, call{method: "GET", path: "/rest/v3/short-urls/" + code, key: key}, 404)
		problemType(t, a, "short-url-not-found")
	})
}

// equalJSON compares a decoded JSON value with want, numbers as float64.
func equalJSON(got, want any) bool {
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	var gv, wv any
	json.Unmarshal(g, &gv)
	json.Unmarshal(w, &wv)
	gb, _ := json.Marshal(gv)
	wb, _ := json.Marshal(wv)
	return bytes.Equal(gb, wb)
}
