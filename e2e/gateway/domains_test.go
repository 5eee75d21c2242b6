package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
)

// hostClient sends every request to one address, whatever host its URL
// names, as DNS pointing several short domains at one gateway does.
func hostClient(addr string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
		},
	}
}

// onHost makes one request to path with Host host through c, a body sent
// as JSON and headers given as name, value pairs.
func onHost(t *testing.T, c *http.Client, method, host, path, body string, headers ...string) apptest.Reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+host+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apptest.Reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// TestGatewayDomains runs the shipped gateway, serving three short domains,
// in front of two instances on one PostgreSQL database: the domains are
// registered with the instances as docs/deploy.md says (the CLI and the
// API), the same alias on two domains goes to two destinations through
// nginx, a host that is none of the domains gets 404 unknown_domain (from
// nginx when nginx does not serve it, from an instance when only the app
// lacks it), and a client's own X-Forwarded-Host chooses nothing.
func TestGatewayDomains(t *testing.T) {
	nginx := nginxBinary(t)
	dsn := pgtest.Database(t)
	bin := apptest.Binary(t)
	addr := servicetest.FreeAddr(t)

	const (
		home     = "short.example.test" // the default domain: the base URL's host
		goHost   = "go.example.test"
		acmeHost = "acme.example.test"
		// Served by nginx, not yet added to Shortlinks: the state between
		// the two steps of adding a domain.
		pending = "pending.example.test"
		unknown = "elsewhere.example.test" // neither
	)
	args := []string{"--database-url", dsn, "--auto-migrate", "--database-max-conns", "4", "--base-url", "http://" + home,
		"--trusted-proxies", "127.0.0.1/32", "--rate-limit-create", "0"}
	a := apptest.StartServe(t, bin, args...)
	b := apptest.StartServe(t, bin, args...)
	a.WaitReady(t)
	b.WaitReady(t)
	gw := startGateway(t, nginx, addr, []string{home, goHost, acmeHost, pending}, a, b)
	c := hostClient(addr)
	servicetest.Eventually(t, 10*time.Second, "the gateway answers its probe", func() error {
		r, err := apptest.Do(apptest.NoRedirects, http.MethodGet, "http://"+addr+"/gateway/healthz", "")
		if err == nil && r.Status != http.StatusOK {
			err = fmt.Errorf("status %d", r.Status)
		}
		return err
	})

	// An admin key, then the two domains: one with the CLI against an
	// instance, one with the API through the gateway on the default domain.
	out, err := exec.Command(bin, "apikey", "create", "--name", "domains", "--admin", "--database-url", dsn).Output()
	if err != nil {
		t.Fatalf("apikey create: %v", err)
	}
	key := strings.TrimSpace(string(out))
	auth := []string{"Authorization", "Bearer " + key}
	if out, err := exec.Command(bin, "domain", "add", goHost, "--server", a.URL, "--api-key", key).CombinedOutput(); err != nil {
		t.Fatalf("shortlinks domain add %s: %v\n%s", goHost, err, out)
	}
	if r := onHost(t, c, http.MethodPost, home, "/api/v1/domains", fmt.Sprintf(`{"host":%q}`, acmeHost), auth...); r.Status != http.StatusCreated {
		t.Fatalf("POST /api/v1/domains %s through the gateway = %d %s, want 201", acmeHost, r.Status, r.Body)
	}
	// The same alias on both domains, made on one instance, which may learn
	// of the domain added through the other only when it reads the domains
	// again (every link.DomainReloadEvery).
	dests := map[string]string{goHost: "https://example.com/go-promo", acmeHost: "https://example.com/acme-promo"}
	direct := func(p *apptest.Process) *http.Client { return hostClient(strings.TrimPrefix(p.URL, "http://")) }
	for h, dest := range dests {
		servicetest.Eventually(t, 40*time.Second, "promo is made on "+h, func() error {
			r := onHost(t, direct(a), http.MethodPost, home, "/api/v1/links", fmt.Sprintf(`{"url":%q,"alias":"promo","domain":%q}`, dest, h), auth...)
			var l struct {
				ShortURL string `json:"short_url"`
			}
			switch {
			case r.Status == http.StatusNotFound && strings.Contains(string(r.Body), `"domain_not_found"`):
				return fmt.Errorf("%d %s", r.Status, r.Body)
			case r.Status != http.StatusCreated || json.Unmarshal(r.Body, &l) != nil || l.ShortURL != "http://"+h+"/promo":
				t.Fatalf("create promo on %s = %d %s, want 201 with short_url http://%s/promo", h, r.Status, r.Body, h)
			}
			return nil
		})
	}
	// Until both instances know both domains, the one that does not serves
	// every host as the default domain.
	for _, p := range []*apptest.Process{a, b} {
		for h, dest := range dests {
			servicetest.Eventually(t, 40*time.Second, p.URL+" serves promo on "+h, func() error {
				r := onHost(t, direct(p), http.MethodGet, h, "/promo", "")
				if r.Status != http.StatusFound || r.Header.Get("Location") != dest {
					return fmt.Errorf("%d %q", r.Status, r.Header.Get("Location"))
				}
				return nil
			})
		}
	}
	const homeDest = "https://example.com/home"
	r := onHost(t, c, http.MethodPost, home, "/api/v1/links", fmt.Sprintf(`{"url":%q}`, homeDest), auth...)
	var homeLink struct {
		Code string `json:"code"`
	}
	if r.Status != http.StatusCreated || json.Unmarshal(r.Body, &homeLink) != nil {
		t.Fatalf("create on the default domain = %d %s", r.Status, r.Body)
	}

	redirect := func(t *testing.T, what, host, path, want string, headers ...string) {
		t.Helper()
		for i := range 4 { // both instances, twice
			r := onHost(t, c, http.MethodGet, host, path, "", headers...)
			if r.Status != http.StatusFound || r.Header.Get("Location") != want {
				t.Fatalf("%s: GET %s with Host %q (try %d) = %d %q %s, want 302 to %s", what, path, host, i, r.Status, r.Header.Get("Location"), r.Body, want)
			}
		}
	}

	t.Run("SameAliasTwoDomains", func(t *testing.T) {
		redirect(t, "go's promo", goHost, "/promo", dests[goHost])
		redirect(t, "acme's promo", acmeHost, "/promo", dests[acmeHost])
		redirect(t, "the default domain's link", home, "/"+homeLink.Code, homeDest)
		// nginx and Shortlinks both ignore the port and the case of the
		// host and a trailing dot.
		redirect(t, "go's promo, spelt otherwise", "GO.Example.TEST:80", "/promo", dests[goHost])
		redirect(t, "acme's promo, with a trailing dot", acmeHost+".", "/promo", dests[acmeHost])
		// A link exists only on its own domain.
		r := onHost(t, c, http.MethodGet, home, "/promo", "", "Accept", "application/json")
		if r.Status != http.StatusNotFound {
			t.Errorf("GET /promo on the default domain = %d %q, want 404: promo lives on the branded domains", r.Status, r.Header.Get("Location"))
		}
		r = onHost(t, c, http.MethodGet, goHost, "/"+homeLink.Code, "", "Accept", "application/json")
		if r.Status != http.StatusNotFound {
			t.Errorf("GET /%s on %s = %d %q, want 404: the code was made for the default domain", homeLink.Code, goHost, r.Status, r.Header.Get("Location"))
		}
	})

	t.Run("UnknownHost", func(t *testing.T) {
		// nginx serves no such name: it answers by itself.
		for i, path := range []string{"/promo", "/", "/api/v1/links"} {
			id := fmt.Sprintf("unknown-host-%d", i)
			r := onHost(t, c, http.MethodGet, unknown, path, "", "X-Request-ID", id)
			wantJSONError(t, "GET "+path+" on a host the gateway does not serve", r, http.StatusNotFound, "unknown_domain")
			if r.Header.Get("X-Request-ID") != id {
				t.Errorf("X-Request-ID %q, want %q", r.Header.Get("X-Request-ID"), id)
			}
			if e := gw.logged(t, id)[id]; e.UpstreamAddr != "" || e.Status != http.StatusNotFound {
				t.Errorf("%s on an unknown host logged as %+v, want a 404 from the gateway alone", path, e)
			}
		}
		// Asked by address, as probes and scanners do: the same.
		r := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, "http://"+addr+"/promo", "")
		wantJSONError(t, "GET /promo by the gateway's address", r, http.StatusNotFound, "unknown_domain")
		if r := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, "http://"+addr+"/gateway/healthz", ""); r.Status != http.StatusOK {
			t.Errorf("GET /gateway/healthz by address = %d, want 200: probes ask by address", r.Status)
		}

		// nginx serves the name, Shortlinks does not know it yet: the
		// instance answers, with the same error.
		const id = "pending-host"
		fromApp := onHost(t, c, http.MethodGet, pending, "/promo", "", "X-Request-ID", id, "Accept", "application/json")
		wantJSONError(t, "GET /promo on a host nginx serves but Shortlinks lacks", fromApp, http.StatusNotFound, "unknown_domain")
		if e := gw.logged(t, id)[id]; e.UpstreamAddr == "" {
			t.Errorf("the pending host's request was answered by the gateway, want an instance: %+v", e)
		}
		fromGateway := onHost(t, c, http.MethodGet, unknown, "/promo", "", "Accept", "application/json")
		if string(fromApp.Body) != string(fromGateway.Body) {
			t.Errorf("the gateway's unknown_domain differs from the instances':\n%s\n%s", fromGateway.Body, fromApp.Body)
		}
	})

	t.Run("ForgedForwardedHost", func(t *testing.T) {
		// The instances do believe X-Forwarded-Host from a trusted peer
		// (this test's address is one), so what follows means something.
		if r := onHost(t, direct(a), http.MethodGet, goHost, "/promo", "", "X-Forwarded-Host", acmeHost); r.Header.Get("Location") != dests[acmeHost] {
			t.Fatalf("an instance asked directly by a trusted peer for go's host with X-Forwarded-Host %s = %d %q, want acme's promo", acmeHost, r.Status, r.Header.Get("Location"))
		}
		// Through the gateway, a client's X-Forwarded-Host is dropped: the
		// request is resolved on the Host the client connected with.
		redirect(t, "go's promo with a forged X-Forwarded-Host", goHost, "/promo", dests[goHost], "X-Forwarded-Host", acmeHost)
		redirect(t, "acme's promo with a forged X-Forwarded-Host list", acmeHost, "/promo", dests[acmeHost], "X-Forwarded-Host", goHost+", "+acmeHost)
		// ... and cannot make an unknown host a known one.
		r := onHost(t, c, http.MethodGet, unknown, "/promo", "", "X-Forwarded-Host", goHost)
		wantJSONError(t, "an unknown host with X-Forwarded-Host naming a domain", r, http.StatusNotFound, "unknown_domain")
		r = onHost(t, c, http.MethodGet, pending, "/promo", "", "X-Forwarded-Host", goHost, "Accept", "application/json")
		wantJSONError(t, "a host nginx serves but Shortlinks lacks, with X-Forwarded-Host naming a domain", r, http.StatusNotFound, "unknown_domain")
	})
}
