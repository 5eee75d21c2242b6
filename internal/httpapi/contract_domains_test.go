package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
)

func (downEngine) InsertDomain(context.Context, link.Domain) (int64, error) { return 0, errEngineDown }
func (downEngine) Domains(context.Context) ([]link.Domain, error)           { return nil, errEngineDown }
func (downEngine) DeleteDomain(context.Context, int64) error                { return errEngineDown }

// domainCases drives the domains API and the domain of links through
// their documented answers.
func domainCases(t *testing.T, c *contract, srv *contractServer, owner, admin string) {
	const host = "go.acme.example"
	for _, k := range []contractCall{
		{method: http.MethodPost, path: "/api/v1/domains", key: admin, contentType: jsonType, status: 201,
			body: `{"host":"Go.Acme.Example.","root_redirect":"https://acme.example/","not_found_redirect":"https://acme.example/missing"}`},
		{method: http.MethodPost, path: "/api/v1/domains", key: admin, contentType: jsonType, status: 201,
			body: `{"host":"vip.acme.example","restricted":true}`},
		{method: http.MethodPost, path: "/api/v1/domains", key: admin, contentType: jsonType, body: `{"host":"go.acme.example"}`,
			status: 409, code: "domain_taken"},
		{method: http.MethodPost, path: "/api/v1/domains", key: admin, contentType: jsonType, body: `{"host":"https://x.example/"}`,
			status: 400, code: "invalid_host"},
		{method: http.MethodPost, path: "/api/v1/domains", key: admin, contentType: jsonType, body: `{"host":"x.example","root_redirect":"ftp://x.example/"}`,
			status: 400, code: "invalid_root_redirect"},
		{method: http.MethodPost, path: "/api/v1/domains", key: admin, contentType: jsonType, body: `{"host":"x.example","not_found_redirect":"/404"}`,
			status: 400, code: "invalid_not_found_redirect"},
		{method: http.MethodPost, path: "/api/v1/domains", key: admin, contentType: jsonType, body: `{"host":"x.example","port":1}`,
			docRefuses: true, status: 400, code: "unknown_field"},
		{method: http.MethodPost, path: "/api/v1/domains", contentType: jsonType, body: `{"host":"x.example"}`, docRefuses: true, status: 401, code: "unauthorized"},
		{method: http.MethodPost, path: "/api/v1/domains", key: owner, contentType: jsonType, body: `{"host":"x.example"}`,
			status: 403, code: "admin_required"},
		{method: http.MethodPost, path: "/api/v1/domains", key: admin, contentType: jsonType,
			body: `{"host":"` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}`, status: 413, code: "body_too_large"},
		{method: http.MethodPost, path: "/api/v1/domains", key: admin, contentType: "text/plain", body: `{"host":"x.example"}`,
			docRefuses: true, status: 415, code: "unsupported_media_type"},
		{method: http.MethodPost, path: "/api/v1/domains", key: admin, contentType: jsonType, body: `{"host":`,
			docRefuses: true, status: 400, code: "malformed_json"},
		{method: http.MethodPost, path: "/api/v1/domains", key: admin, contentType: jsonType, body: `{"host":5}`,
			docRefuses: true, status: 400, code: "invalid_field_type"},
		{method: http.MethodPost, path: "/api/v1/domains", key: admin, contentType: jsonType, body: `{"host":"a.example","host":"b.example"}`,
			status: 400, code: "duplicate_field"},
		{method: http.MethodPost, path: "/api/v1/domains", key: admin, contentType: jsonType, body: `{"host":"x.example"}`,
			header: []string{"Authorization", "Bearer " + owner}, status: 400, code: "duplicate_header"},
		{method: http.MethodGet, path: "/api/v1/links?destination_host=exa%20mple", key: owner, status: 400, code: "invalid_destination_host"},
		{method: http.MethodGet, path: "/api/v1/domains", docRefuses: true, status: 401, code: "unauthorized"},
		{method: http.MethodGet, path: "/api/v1/domains", key: owner, header: []string{"Authorization", "Bearer " + admin},
			status: 400, code: "duplicate_header"},
	} {
		c.do(t, srv.url, k)
	}
	r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/domains", key: owner, status: 200})
	var list httpapi.DomainList
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Domains) != 3 || !list.Domains[0].Default || list.Domains[1].Host != host || !list.Domains[2].Restricted {
		t.Errorf("GET /api/v1/domains = %s, want the default domain, %s and the restricted one", r.body, host)
	}

	// One alias on two domains is two links; short_url is on the link's
	// domain.
	onAcme := c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/links", key: owner, contentType: jsonType, status: 201,
		body: `{"url":"https://example.com/acme","alias":"promo","domain":"GO.ACME.EXAMPLE"}`})
	var l httpapi.LinkJSON
	if err := json.Unmarshal(onAcme.body, &l); err != nil {
		t.Fatal(err)
	}
	if l.Domain != host || !strings.HasSuffix(l.ShortURL, "://"+host+"/promo") {
		t.Errorf("created on %s: domain %q, short_url %q", host, l.Domain, l.ShortURL)
	}
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/links", key: owner, contentType: jsonType, status: 201,
		body: `{"url":"https://example.com/default","alias":"promo"}`})
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/links", key: owner, contentType: jsonType, status: 409, code: "alias_taken",
		body: `{"url":"https://example.com/again","alias":"promo","domain":"go.acme.example"}`})
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/links", key: owner, contentType: jsonType, status: 404, code: "domain_not_found",
		body: `{"url":"https://example.com/","domain":"nowhere.example"}`})
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/links", key: owner, contentType: jsonType, status: 403, code: "domain_forbidden",
		body: `{"url":"https://example.com/","domain":"vip.acme.example"}`})
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/links", key: admin, contentType: jsonType, status: 201,
		body: `{"url":"https://example.com/vip","domain":"vip.acme.example"}`})
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/links", key: owner, contentType: jsonType, status: 400, code: "url_self_reference",
		body: `{"url":"https://go.acme.example/promo"}`})

	got := func(path string) httpapi.LinkJSON {
		t.Helper()
		r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: path, key: owner, status: 200})
		var l httpapi.LinkJSON
		if err := json.Unmarshal(r.body, &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l := got("/api/v1/links/promo?domain=go.acme.example"); l.URL != "https://example.com/acme" || l.Domain != host {
		t.Errorf("promo on %s = %+v", host, l)
	}
	if l := got("/api/v1/links/promo"); l.URL != "https://example.com/default" {
		t.Errorf("promo on the default domain = %+v", l)
	}
	c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/promo?domain=nowhere.example", key: owner,
		status: 404, code: "not_found"})
	r = c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links?domain=" + host, key: owner, status: 200})
	var page httpapi.LinkList
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Links) != 1 || page.Links[0].Domain != host {
		t.Errorf("GET /api/v1/links?domain=%s = %s, want promo alone", host, r.body)
	}
	c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links?domain=nowhere.example&destination_host=example.com", key: owner,
		status: 400, code: "invalid_domain"})
	c.do(t, srv.url, contractCall{method: http.MethodPatch, path: "/api/v1/links/promo?domain=" + host, key: owner, contentType: jsonType,
		body: `{"title":"Acme promo"}`, status: 200})

	// A report names the link's domain, or its short URL does.
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/reports", contentType: jsonType, status: 201,
		body: `{"code":"promo","domain":"go.acme.example","reason":"spam"}`})
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/reports", contentType: jsonType, status: 201,
		body: `{"code":"http://go.acme.example/promo","reason":"spam"}`})
	c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/reports", contentType: jsonType, status: 404, code: "not_found",
		body: `{"code":"promo","domain":"nowhere.example","reason":"spam"}`})
	r = c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/reports?limit=2", key: admin, status: 200})
	if !strings.Contains(string(r.body), `"domain":"go.acme.example"`) {
		t.Errorf("GET /api/v1/reports = %s, want the reports on %s", r.body, host)
	}

	// A bulk create names the batch's domain, and items their own (the
	// default one by its host); an alias is unique per domain within the
	// batch too.
	defaultHost := strings.Split(strings.TrimPrefix(strings.TrimPrefix(srv.url, "http://"), "https://"), ":")[0]
	r = c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/links/bulk", key: owner, contentType: jsonType, status: 200,
		body: `{"domain":"go.acme.example","links":[{"url":"https://example.com/b1","alias":"bulk-a"},` +
			`{"url":"https://example.com/b2","alias":"bulk-a","domain":"` + defaultHost + `"},{"url":"https://example.com/b3"},` +
			`{"url":"https://example.com/b4","alias":"bulk-a"},{"url":"https://example.com/b5","domain":"nowhere.example"},` +
			`{"url":"https://example.com/b6","domain":"vip.acme.example"}]}`})
	var bulk httpapi.BulkResponse
	if err := json.Unmarshal(r.body, &bulk); err != nil {
		t.Fatal(err)
	}
	wantBulk := []struct {
		status int
		domain string // of the link, or the error's code
	}{{201, host}, {201, defaultHost}, {201, host}, {409, "alias_taken"}, {404, "domain_not_found"}, {403, "domain_forbidden"}}
	if len(bulk.Results) != len(wantBulk) {
		t.Fatalf("bulk results %s", r.body)
	}
	for i, w := range wantBulk {
		res := bulk.Results[i]
		switch {
		case res.Status != w.status:
			t.Errorf("bulk item %d: status %d, want %d (%s)", i, res.Status, w.status, r.body)
		case res.Link != nil && (res.Link.Domain != w.domain || !strings.Contains(res.Link.ShortURL, "://"+w.domain)):
			t.Errorf("bulk item %d: on %q at %q, want on %s", i, res.Link.Domain, res.Link.ShortURL, w.domain)
		case res.Error != nil && res.Error.Code != w.domain:
			t.Errorf("bulk item %d: error %s, want %s", i, res.Error.Code, w.domain)
		}
	}
	for _, res := range bulk.Results[:3] {
		if res.Link != nil {
			c.do(t, srv.url, contractCall{method: http.MethodDelete, path: "/api/v1/links/" + res.Link.Code + "?domain=" + res.Link.Domain, key: owner, status: 204})
		}
	}

	// A domain with live links stays until they are deleted.
	for _, k := range []contractCall{
		{method: http.MethodDelete, path: "/api/v1/domains/" + host, key: admin, status: 409, code: "domain_in_use"},
		{method: http.MethodDelete, path: "/api/v1/domains/" + host, docRefuses: true, status: 401, code: "unauthorized"},
		{method: http.MethodDelete, path: "/api/v1/domains/" + host, key: owner, status: 403, code: "admin_required"},
		{method: http.MethodDelete, path: "/api/v1/domains/" + host, key: admin, header: []string{"Authorization", "Bearer " + owner},
			status: 400, code: "duplicate_header"},
		{method: http.MethodDelete, path: "/api/v1/domains/nowhere.example", key: admin, status: 404, code: "domain_not_found"},
		{method: http.MethodDelete, path: "/api/v1/links/promo?domain=" + host, key: owner, status: 204},
		{method: http.MethodDelete, path: "/api/v1/domains/" + host, key: admin, status: 204},
	} {
		c.do(t, srv.url, k)
	}
	if l := got("/api/v1/links/promo"); l.URL != "https://example.com/default" {
		t.Errorf("promo on the default domain after %s's was deleted = %+v", host, l)
	}
	u := strings.TrimPrefix(strings.TrimPrefix(srv.url, "http://"), "https://")
	c.do(t, srv.url, contractCall{method: http.MethodDelete, path: "/api/v1/domains/" + strings.Split(u, ":")[0], key: admin,
		status: 409, code: "default_domain"})
}
