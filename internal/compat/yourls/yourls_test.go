package yourls_test

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
)

// server is a real Shortlinks over SQLite with the YOURLS API on.
type server struct {
	base string
	app  *app.App
}

func start(t *testing.T, edit func(*config.Config)) *server {
	t.Helper()
	srv := apptest.Start(t, slog.New(slog.NewTextHandler(t.Output(), nil)), app.Telemetry{}, func(c *config.Config) {
		c.CreateRate, c.Compat = 0, []string{"yourls"}
		if edit != nil {
			edit(c)
		}
	})
	return &server{base: srv.URL, app: srv.App}
}

// key makes an API key and returns it with its signature token.
func (s *server) key(t *testing.T, admin bool) (secret, token string) {
	t.Helper()
	k, secret, err := s.app.Keys().Create(t.Context(), "yourls client", admin)
	if err != nil {
		t.Fatal(err)
	}
	return secret, apikey.SignatureToken(k)
}

type reply struct {
	status int
	ctype  string
	body   string
}

// call sends params to yourls-api.php, as a GET query or a POST form.
func (s *server) call(t *testing.T, method string, params url.Values) reply {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = http.PostForm(s.base+"/yourls-api.php", params)
	} else {
		resp, err = http.Get(s.base + "/yourls-api.php?" + params.Encode())
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: string(b)}
}

// json decodes a JSON reply, failing the test on anything else.
func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	if !strings.HasPrefix(r.ctype, "application/json") {
		t.Fatalf("Content-Type %q, want JSON; body %s", r.ctype, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
	return m
}

func params(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func TestYOURLSAPI(t *testing.T) {
	s := start(t, nil)
	key, token := s.key(t, false)

	t.Run("version needs no credentials", func(t *testing.T) {
		r := s.call(t, http.MethodGet, params("action", "version", "format", "json", "db", "1"))
		if m := r.json(t); r.status != 200 || m["version"] != "1.9.2" || m["db_version"] != "506" {
			t.Errorf("version: %d %s", r.status, r.body)
		}
		if r := s.call(t, http.MethodGet, params("action", "version", "format", "simple")); r.body != "1.9.2" {
			t.Errorf("simple version: %q", r.body)
		}
	})

	t.Run("credentials", func(t *testing.T) {
		for name, p := range map[string]url.Values{
			"none":          params("action", "expand", "shorturl", "abc", "format", "json"),
			"wrong key":     params("action", "expand", "shorturl", "abc", "format", "json", "signature", "sl_wrong"),
			"wrong token":   params("action", "expand", "shorturl", "abc", "format", "json", "signature", strings.Repeat("0", 32)),
			"stale":         params("action", "expand", "shorturl", "abc", "format", "json", "timestamp", "1000", "signature", md5hex("1000"+token)),
			"unknown hash":  params("action", "expand", "shorturl", "abc", "format", "json", "timestamp", now(), "hash", "crc32", "signature", token),
			"user password": params("action", "expand", "shorturl", "abc", "format", "json", "username", "a@example.com", "password", "secret"),
		} {
			r := s.call(t, http.MethodGet, p)
			if m := r.json(t); r.status != 403 || m["errorCode"] != float64(403) || m["message"] == "" {
				t.Errorf("%s: %d %s; want 403 with a message", name, r.status, r.body)
			}
		}
	})

	var code string
	t.Run("shorturl", func(t *testing.T) {
		r := s.call(t, http.MethodPost, params("action", "shorturl", "format", "json", "signature", key, "url", "https://example.com/yourls?x=1"))
		m := r.json(t)
		u, _ := m["url"].(map[string]any)
		if r.status != 200 || m["status"] != "success" || m["statusCode"] != "200" || u == nil {
			t.Fatalf("shorturl: %d %s", r.status, r.body)
		}
		code, _ = u["keyword"].(string)
		if m["shorturl"] != s.base+"/"+code || u["url"] != "https://example.com/yourls?x=1" || u["date"] == "" {
			t.Errorf("shorturl answer: %s", r.body)
		}
		// The short URL redirects.
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(s.base + "/" + code)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://example.com/yourls?x=1" {
			t.Errorf("the new short URL answers %s → %q", resp.Status, resp.Header.Get("Location"))
		}

		r = s.call(t, http.MethodGet, params("action", "shorturl", "format", "json", "signature", key, "url", "https://example.com/2", "keyword", "launch", "title", "The launch"))
		if m := r.json(t); r.status != 200 || m["shorturl"] != s.base+"/launch" || m["title"] != "The launch" {
			t.Errorf("shorturl with keyword: %d %s", r.status, r.body)
		}
		for name, tt := range map[string]struct {
			p    url.Values
			code string
		}{
			"taken":   {params("url", "https://example.com/3", "keyword", "launch"), "error:keyword"},
			"bad":     {params("url", "https://example.com/3", "keyword", "a b"), "error:keyword"},
			"no url":  {params("url", ""), "error:nourl"},
			"scheme":  {params("url", "javascript:alert(1)"), "error:nourl"},
			"a loop":  {params("url", s.base+"/launch"), "error:noloop"},
			"missing": {params(), "error:nourl"},
		} {
			p := tt.p
			p.Set("action", "shorturl")
			p.Set("format", "json")
			p.Set("signature", key)
			r := s.call(t, http.MethodPost, p)
			if m := r.json(t); r.status != 400 || m["status"] != "fail" || m["code"] != tt.code || m["message"] == "" {
				t.Errorf("%s: %d %s; want 400 %s", name, r.status, r.body, tt.code)
			}
		}
		if r := s.call(t, http.MethodGet, params("action", "shorturl", "format", "simple", "signature", key, "url", "https://example.com/simple")); r.status != 200 || !strings.HasPrefix(r.body, s.base+"/") {
			t.Errorf("simple shorturl: %d %q", r.status, r.body)
		}
	})

	t.Run("time-limited signatures", func(t *testing.T) {
		ts := now()
		for algo, sig := range map[string]string{"": md5hex(ts + token), "md5": md5hex(ts + token), "sha256": sha256hex(ts + token)} {
			r := s.call(t, http.MethodGet, params("action", "expand", "shorturl", "launch", "format", "json", "timestamp", ts, "hash", algo, "signature", sig))
			if m := r.json(t); r.status != 200 || m["longurl"] != "https://example.com/2" {
				t.Errorf("hash %q: %d %s", algo, r.status, r.body)
			}
		}
		// The token alone works as a signature too.
		r := s.call(t, http.MethodGet, params("action", "expand", "shorturl", "launch", "format", "json", "signature", token))
		if r.status != 200 {
			t.Errorf("token as signature: %d %s", r.status, r.body)
		}
	})

	t.Run("expand", func(t *testing.T) {
		for _, short := range []string{"launch", s.base + "/launch"} {
			r := s.call(t, http.MethodGet, params("action", "expand", "shorturl", short, "format", "json", "signature", key))
			if m := r.json(t); r.status != 200 || m["longurl"] != "https://example.com/2" || m["keyword"] != "launch" || m["shorturl"] != s.base+"/launch" {
				t.Errorf("expand %s: %d %s", short, r.status, r.body)
			}
		}
		r := s.call(t, http.MethodGet, params("action", "expand", "shorturl", "nothing-here", "format", "json", "signature", key))
		if m := r.json(t); r.status != 404 || m["message"] != "Error: short URL not found" {
			t.Errorf("expand unknown: %d %s", r.status, r.body)
		}
	})

	t.Run("stats", func(t *testing.T) {
		// A click by a person, counted by click analytics off the request.
		req, _ := http.NewRequest(http.MethodGet, s.base+"/launch", nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
		req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := s.call(t, http.MethodGet, params("action", "url-stats", "shorturl", "launch", "format", "json", "signature", key))
			if l, _ := r.json(t)["link"].(map[string]any); l != nil && l["clicks"] == "1" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("url-stats never showed the click: %s", r.body)
			}
			time.Sleep(100 * time.Millisecond)
		}
		r := s.call(t, http.MethodGet, params("action", "url-stats", "shorturl", "launch", "format", "json", "signature", key))
		m := r.json(t)
		l, _ := m["link"].(map[string]any)
		if r.status != 200 || l == nil || l["url"] != "https://example.com/2" || l["shorturl"] != s.base+"/launch" || l["clicks"] != "1" || l["title"] != "The launch" {
			t.Errorf("url-stats: %d %s", r.status, r.body)
		}
		r = s.call(t, http.MethodGet, params("action", "stats", "filter", "last", "limit", "2", "format", "json", "signature", key))
		m = r.json(t)
		links, _ := m["links"].(map[string]any)
		st, _ := m["stats"].(map[string]any)
		if r.status != 200 || len(links) != 2 || links["link_1"] == nil || st["total_links"] != "3" || st["total_clicks"] != "1" {
			t.Errorf("stats last 2: %d %s", r.status, r.body)
		}
		if l1, _ := links["link_1"].(map[string]any); l1["url"] != "https://example.com/simple" {
			t.Errorf("stats last: link_1 is %v, want the newest", l1)
		}
		r = s.call(t, http.MethodGet, params("action", "db-stats", "format", "json", "signature", key))
		// total_clicks is the sum of the links' clicks: the one above.
		if db, _ := r.json(t)["db-stats"].(map[string]any); r.status != 200 || db["total_links"] != "3" || db["total_clicks"] != "1" {
			t.Errorf("db-stats: %d %s", r.status, r.body)
		}
		r = s.call(t, http.MethodGet, params("action", "stats", "filter", "sideways", "format", "json", "signature", key))
		if r.status != 400 {
			t.Errorf("stats with an unknown filter: %d %s", r.status, r.body)
		}
	})

	t.Run("formats", func(t *testing.T) {
		r := s.call(t, http.MethodGet, params("action", "expand", "shorturl", "launch", "signature", key)) // XML is YOURLS' default
		var x struct {
			XMLName xml.Name `xml:"result"`
			Keyword string   `xml:"keyword"`
			LongURL string   `xml:"longurl"`
			Code    int      `xml:"statusCode"`
		}
		if err := xml.Unmarshal([]byte(r.body), &x); err != nil || x.LongURL != "https://example.com/2" || x.Code != 200 || !strings.HasPrefix(r.ctype, "application/xml") {
			t.Errorf("xml: %v %+v %q", err, x, r.body)
		}
		r = s.call(t, http.MethodGet, params("action", "expand", "shorturl", "launch", "format", "jsonp", "callback", "app.got", "signature", key))
		if !strings.HasPrefix(r.body, "app.got({") || !strings.HasSuffix(r.body, "})") || !strings.HasPrefix(r.ctype, "application/javascript") {
			t.Errorf("jsonp: %q %q", r.ctype, r.body)
		}
		r = s.call(t, http.MethodGet, params("action", "expand", "shorturl", "launch", "format", "jsonp", "callback", "alert(1);x", "signature", key))
		if r.status != 400 || strings.Contains(r.body, "alert(1)") {
			t.Errorf("jsonp with script for a callback: %d %q", r.status, r.body)
		}
		r = s.call(t, http.MethodGet, params("action", "expand", "shorturl", "launch", "format", "simple", "signature", key))
		if r.body != "https://example.com/2" {
			t.Errorf("simple expand: %q", r.body)
		}
		r = s.call(t, http.MethodGet, params("action", "fly", "format", "json", "signature", key))
		if r.status != 400 {
			t.Errorf("unknown action: %d %s", r.status, r.body)
		}
	})

	t.Run("delete", func(t *testing.T) {
		other, _ := s.key(t, false)
		r := s.call(t, http.MethodPost, params("action", "delete", "keyword", "launch", "format", "json", "signature", other))
		if r.status != 404 {
			t.Errorf("delete of another key's link: %d %s", r.status, r.body)
		}
		r = s.call(t, http.MethodPost, params("action", "delete", "keyword", "launch", "format", "json", "signature", key))
		if m := r.json(t); r.status != 200 || m["message"] != "success" {
			t.Errorf("delete: %d %s", r.status, r.body)
		}
		r = s.call(t, http.MethodGet, params("action", "expand", "shorturl", "launch", "format", "json", "signature", key))
		if r.status != 404 {
			t.Errorf("expand after delete: %d %s", r.status, r.body)
		}
	})
}

// TestYOURLSCreatesAreRationed: shorturl spends the create budget of the
// client's address, as creates through the API do; other actions don't.
func TestYOURLSCreatesAreRationed(t *testing.T) {
	s := start(t, func(c *config.Config) { c.CreateRate, c.CreateBurst = 0.001, 1 })
	key, _ := s.key(t, false)
	create := params("action", "shorturl", "format", "json", "signature", key, "url", "https://example.com/")
	if r := s.call(t, http.MethodGet, create); r.status != 200 {
		t.Fatalf("first create: %d %s", r.status, r.body)
	}
	if r := s.call(t, http.MethodGet, create); r.status != 429 {
		t.Errorf("second create: %d %s; want 429", r.status, r.body)
	}
	for range 3 {
		if r := s.call(t, http.MethodGet, params("action", "db-stats", "format", "json", "signature", key)); r.status != 200 {
			t.Errorf("db-stats after the budget is spent: %d %s", r.status, r.body)
		}
	}
}

// TestYOURLSUserPassword: YOURLS' username and password are an account's
// email and password, signed in as the dashboard signs people in (the same
// service and limits): the right pair acts as that user, a wrong password
// and an unknown user get the same 403, and an address that keeps trying
// is refused with 429 before any password is checked.
func TestYOURLSUserPassword(t *testing.T) {
	const email, password = "admin@example.com", "correct horse battery staple"
	s := start(t, func(c *config.Config) { c.AdminEmail, c.AdminPassword = email, password })
	create := params("action", "shorturl", "format", "json", "url", "https://example.com/by-user", "keyword", "byuser",
		"username", email, "password", password)
	if r := s.call(t, http.MethodPost, create); r.status != 200 || r.json(t)["shorturl"] != s.base+"/byuser" {
		t.Fatalf("shorturl as a user: %d %s", r.status, r.body)
	}
	stats := params("action", "url-stats", "format", "json", "shorturl", "byuser", "username", email, "password", password)
	if r := s.call(t, http.MethodGet, stats); r.status != 200 {
		t.Errorf("url-stats of the user's link: %d %s", r.status, r.body)
	}
	wrong := s.call(t, http.MethodGet, params("action", "db-stats", "format", "json", "username", email, "password", "not the password"))
	unknown := s.call(t, http.MethodGet, params("action", "db-stats", "format", "json", "username", "nobody@example.com", "password", password))
	if wrong.status != 403 || unknown.status != 403 || wrong.body != unknown.body {
		t.Errorf("wrong password: %d %s; unknown user: %d %s; want the same 403", wrong.status, wrong.body, unknown.status, unknown.body)
	}
	// The email's allowance is 10 attempts; two are spent.
	var last reply
	for range 10 {
		last = s.call(t, http.MethodGet, params("action", "db-stats", "format", "json", "username", email, "password", "guess"))
	}
	if last.status != 429 {
		t.Errorf("after 12 attempts on one email: %d %s; want 429", last.status, last.body)
	}
	if r := s.call(t, http.MethodGet, stats); r.status != 429 {
		t.Errorf("the right password once the email is throttled: %d %s; want 429", r.status, r.body)
	}
}

// TestYOURLSOff: without --compat yourls the path is not served.
func TestYOURLSOff(t *testing.T) {
	s := start(t, func(c *config.Config) { c.Compat = nil })
	if r := s.call(t, http.MethodGet, params("action", "version")); r.status != 404 {
		t.Errorf("yourls-api.php without --compat yourls: %d", r.status)
	}
}

func now() string { return strconv.FormatInt(time.Now().Unix(), 10) }

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
