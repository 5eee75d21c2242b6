package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
)

// The gateway configuration as shipped, relative to this package.
const nginxDir = "../../deploy/nginx"

// nginxBinary returns the path of nginx: the one on PATH, or Debian's
// /usr/sbin/nginx, which is not on every user's PATH. Without either the
// test skips, or fails when CI=true.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if p, err := exec.LookPath("/usr/sbin/nginx"); err == nil {
		return p
	}
	return servicetest.Binary(t, "nginx")
}

// replaceOnce replaces old with new in s, failing the test unless old occurs
// exactly once: the shipped configuration must still have the shape the test
// rewrites.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	return replaceN(t, s, old, new, 1)
}

// replaceN replaces every old with new in s, failing the test unless old
// occurs exactly n times.
func replaceN(t *testing.T, s, old, new string, n int) string {
	t.Helper()
	if got := strings.Count(s, old); got != n {
		t.Fatalf("the gateway configuration holds %q %d times, want %d", old, got, n)
	}
	return strings.ReplaceAll(s, old, new)
}

// serverName matches a server_name line of a domains file that is not
// commented out.
var serverName = regexp.MustCompile(`(?m)^\s*server_name\s+([^;\s]+);`)

// gateway is nginx running the shipped Shortlinks configuration.
type gateway struct {
	*apptest.Process
	accessLog string
}

// startGateway runs nginx with deploy/nginx/shortlinks.conf on addr in
// front of the instances until the test ends, serving the short domains
// names. The instances take the places of app1 and app2 in the compose
// stack's upstream file, and names the place of its one domain. Only the
// listening address and file paths differ from what ships.
func startGateway(t *testing.T, nginx, addr string, names []string, instances ...*apptest.Process) *gateway {
	t.Helper()
	dir := t.TempDir()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(nginxDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	g := &gateway{accessLog: filepath.Join(dir, "access.log")}
	conf := read("shortlinks.conf")
	conf = replaceOnce(t, conf, "listen 80;", "listen "+addr+";")
	conf = replaceOnce(t, conf, "listen 80 default_server;", "listen "+addr+" default_server;")
	conf = replaceN(t, conf, "/var/log/nginx/access.log", g.accessLog, 2)
	conf = replaceOnce(t, conf, "/tmp/nginx-shortlinks-static", filepath.Join(dir, "static-cache"))
	upstreams := read("shortlinks-upstreams.compose.conf")
	for i, p := range instances {
		upstreams = replaceOnce(t, upstreams, fmt.Sprintf("app%d:8080", i+1), strings.TrimPrefix(p.URL, "http://"))
	}
	if n := len(regexp.MustCompile(`(?m)^\s*server\s`).FindAllString(upstreams, -1)); n != len(instances) {
		t.Fatalf("the compose upstream file lists %d servers, the test started %d:\n%s", n, len(instances), upstreams)
	}
	domains := read("shortlinks-domains.compose.conf")
	if m := serverName.FindAllStringSubmatch(domains, -1); len(m) != 1 {
		t.Fatalf("the compose domains file lists %d server names, want the default domain alone:\n%s", len(m), domains)
	}
	var lines strings.Builder
	for _, n := range names {
		fmt.Fprintf(&lines, "server_name %s;\n", n)
	}
	domains = serverName.ReplaceAllLiteralString(domains, strings.TrimSuffix(lines.String(), "\n"))

	// The main file stands for the image's own nginx.conf. As root, nginx
	// would run its workers as "nobody", who cannot enter the test's
	// temporary directory; they keep the test's own identity instead, as
	// they do when the test runs unprivileged.
	var main strings.Builder
	if os.Geteuid() == 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&main, "user %s;\n", u.Username)
	}
	fmt.Fprintf(&main, `worker_processes 2;
pid %[1]q;
error_log stderr notice;
events {
    worker_connections 1024;
}
http {
    client_body_temp_path %[2]q;
    proxy_temp_path %[3]q;
    fastcgi_temp_path %[4]q;
    uwsgi_temp_path %[5]q;
    scgi_temp_path %[6]q;
    include shortlinks.conf;
}
`, filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "client_body"), filepath.Join(dir, "proxy"),
		filepath.Join(dir, "fastcgi"), filepath.Join(dir, "uwsgi"), filepath.Join(dir, "scgi"))
	for name, content := range map[string]string{
		"nginx.conf":                main.String(),
		"shortlinks.conf":           conf,
		"shortlinks-upstreams.conf": upstreams,
		"shortlinks-domains.conf":   domains,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Relative includes resolve against the directory of the -c file, as
	// they resolve against /etc/nginx/ in the image.
	args := []string{"-e", "stderr", "-p", dir + "/", "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;"}
	if out, err := exec.Command(nginx, append([]string{"-t", "-q"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}

	// SIGTERM, not SIGKILL, if the test dies: the master then stops its
	// workers too.
	p := apptest.StartProcess(t, "nginx at "+addr, "http://"+addr, exec.Command(nginx, args...), syscall.SIGTERM)
	g.Process = p
	return g
}

// accessEntry is one line of the gateway's JSON access log. Numbers are
// typed as numbers so that a line that is not valid JSON with these types
// fails the test.
type accessEntry struct {
	Time                 string  `json:"time"`
	RequestID            string  `json:"request_id"`
	RemoteAddr           string  `json:"remote_addr"`
	Method               string  `json:"method"`
	URI                  string  `json:"uri"`
	Status               int     `json:"status"`
	BodyBytesSent        int     `json:"body_bytes_sent"`
	RequestTime          float64 `json:"request_time"`
	UpstreamAddr         string  `json:"upstream_addr"`
	UpstreamStatus       string  `json:"upstream_status"`
	UpstreamResponseTime string  `json:"upstream_response_time"`
	LimitReqStatus       string  `json:"limit_req_status"`
	CacheStatus          string  `json:"cache_status"`
}

// entries returns every line of the access log, failing the test on a line
// that does not decode.
func (g *gateway) entries(t *testing.T) []accessEntry {
	t.Helper()
	b, err := os.ReadFile(g.accessLog)
	if err != nil {
		t.Fatal(err)
	}
	var out []accessEntry
	for line := range bytes.Lines(b) {
		var e accessEntry
		var raw map[string]any
		if err := json.Unmarshal(line, &raw); err != nil {
			t.Fatalf("access log line is not JSON: %v\n%s", err, line)
		}
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("access log line has a field of the wrong type: %v\n%s", err, line)
		}
		for _, k := range []string{"time", "request_id", "status", "request_time", "upstream_addr", "upstream_response_time"} {
			if _, ok := raw[k]; !ok {
				t.Fatalf("access log line lacks %q:\n%s", k, line)
			}
		}
		out = append(out, e)
	}
	return out
}

// logged waits until the access log has a line for each of ids (nginx
// writes it just after answering) and returns those lines by request id.
func (g *gateway) logged(t *testing.T, ids ...string) map[string]accessEntry {
	t.Helper()
	var found map[string]accessEntry
	servicetest.Eventually(t, 5*time.Second, "the gateway logs the requests", func() error {
		found = make(map[string]accessEntry, len(ids))
		want := make(map[string]bool, len(ids))
		for _, id := range ids {
			want[id] = true
		}
		for _, e := range g.entries(t) {
			if want[e.RequestID] {
				found[e.RequestID] = e
			}
		}
		if len(found) != len(want) {
			return fmt.Errorf("%d of %d requests logged", len(found), len(want))
		}
		return nil
	})
	return found
}

// clientFrom is an HTTP client whose connections come from ip, another
// loopback address, so that each stands for a different client.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 16},
	}
}

// createVia creates a link to dest through base and returns its code.
func createVia(t *testing.T, c *http.Client, base, dest string) string {
	t.Helper()
	r := apptest.MustDo(t, c, http.MethodPost, base+"/api/v1/links", fmt.Sprintf(`{"url":%q}`, dest))
	var l struct {
		Code     string `json:"code"`
		ShortURL string `json:"short_url"`
		URL      string `json:"url"`
	}
	if r.Status != http.StatusCreated || json.Unmarshal(r.Body, &l) != nil || l.URL != dest || l.ShortURL != base+"/"+l.Code {
		t.Fatalf("POST /api/v1/links for %s through the gateway = %d %s, want 201 with short_url under %s", dest, r.Status, r.Body, base)
	}
	if loc := r.Header.Get("Location"); loc != base+"/api/v1/links/"+l.Code {
		t.Fatalf("create: Location %q, want %s/api/v1/links/%s", loc, base, l.Code)
	}
	return l.Code
}

// wantJSONError checks that r is status with Shortlinks' JSON error body
// carrying code.
func wantJSONError(t *testing.T, what string, r apptest.Reply, status int, code string) {
	t.Helper()
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if r.Status != status || r.Header.Get("Content-Type") != "application/json" ||
		json.Unmarshal(r.Body, &body) != nil || body.Error.Code != code || body.Error.Message == "" {
		t.Fatalf("%s = %d %q %s, want %d application/json with error code %q", what, r.Status, r.Header.Get("Content-Type"), r.Body, status, code)
	}
}

// instanceRequests returns the request lines of an instance's JSON log.
func instanceRequests(p *apptest.Process) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.Logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// dyingInstance stands for an instance that is killed after it has read a
// request and before it answers: it reads each request whole, notes its
// method and request id, and closes the connection.
type dyingInstance struct {
	*apptest.Process
	mu   sync.Mutex
	seen map[string]bool // "METHOD request-id"
}

func startDyingInstance(t *testing.T) *dyingInstance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	d := &dyingInstance{Process: &apptest.Process{URL: "http://" + ln.Addr().String()}, seen: map[string]bool{}}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				io.Copy(io.Discard, r.Body)
				d.mu.Lock()
				d.seen[r.Method+" "+r.Header.Get("X-Request-ID")] = true
				d.mu.Unlock()
			}()
		}
	}()
	return d
}

// got reports whether it has read the request req, "METHOD request-id".
func (d *dyingInstance) got(req string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seen[req]
}

// establishedTo counts the open TCP connections to addr on this machine,
// from /proc/net/tcp (Linux).
func establishedTo(t *testing.T, addr string) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	var n int
	if _, err := fmt.Sscan(port, &n); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		// f[2] is the remote address, as hex IP:port; f[3] the state, 01 for established.
		if len(f) > 3 && strings.HasSuffix(f[2], fmt.Sprintf(":%04X", n)) && f[3] == "01" {
			count++
		}
	}
	return count
}

var generatedRequestID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestGateway runs the shipped nginx gateway in front of two `shortlinks
// serve` processes on one PostgreSQL database and checks what clients see
// through it: proxying, request ids, client addresses, the rate limits, and
// an instance killed under a stream of redirects.
func TestGateway(t *testing.T) {
	nginx := nginxBinary(t)
	dsn := pgtest.Database(t)
	bin := apptest.Binary(t)
	addr := servicetest.FreeAddr(t)
	base := "http://" + addr
	// The instances' own create limit is off, so that what limits here is
	// the gateway; they trust it for client addresses.
	args := []string{"--database-url", dsn, "--auto-migrate", "--database-max-conns", "8", "--base-url", base,
		"--trusted-proxies", "127.0.0.1/32", "--rate-limit-create", "0"}
	a := apptest.StartServe(t, bin, args...)
	b := apptest.StartServe(t, bin, args...)
	start := time.Now()
	a.WaitReady(t)
	b.WaitReady(t)
	gw := startGateway(t, nginx, addr, []string{"127.0.0.1"}, a, b)
	gw.WaitReady(t) // an instance's /readyz, through nginx
	t.Logf("two instances and the gateway were ready in %v", time.Since(start).Round(time.Millisecond))
	hostA, hostB := strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://")

	t.Run("Proxy", func(t *testing.T) {
		c := clientFrom("127.0.0.10")
		const dest = "https://example.com/x"
		code := createVia(t, c, base, dest)
		var ids []string
		for i := range 4 {
			id := fmt.Sprintf("proxy-redirect-%d", i)
			r := apptest.MustDo(t, c, http.MethodGet, base+"/"+code, "", "X-Request-ID", id)
			if r.Status != http.StatusFound || r.Header.Get("Location") != dest {
				t.Fatalf("GET /%s through the gateway = %d %q, want 302 %q", code, r.Status, r.Header.Get("Location"), dest)
			}
			if s := r.Header.Get("Server"); s != "nginx" {
				t.Errorf("Server: %q, want nginx without a version", s)
			}
			ids = append(ids, id)
		}
		servedBy := map[string]int{}
		for _, e := range gw.logged(t, ids...) {
			servedBy[e.UpstreamAddr]++
		}
		if servedBy[hostA] != 2 || servedBy[hostB] != 2 {
			t.Errorf("4 redirects were served by %v, want 2 by each of %s and %s", servedBy, hostA, hostB)
		}

		// nginx keeps its connections to the instances open between requests.
		if runtime.GOOS == "linux" {
			for range 20 {
				apptest.MustRedirect(t, base, code, dest)
			}
			apptest.NoRedirects.CloseIdleConnections() // the test's own, from waitReady
			if n := establishedTo(t, hostA); n == 0 {
				t.Errorf("after 20 redirects, no connection to %s stays open: the gateway does not keep upstream connections alive", hostA)
			}
		}

		// The longest URL Shortlinks takes fits in a redirect's header.
		longest := "https://example.com/" + strings.Repeat("a", 8192-len("https://example.com/"))
		longCode := createVia(t, c, base, longest)
		if r := apptest.MustDo(t, c, http.MethodGet, base+"/"+longCode, ""); r.Status != http.StatusFound || r.Header.Get("Location") != longest {
			t.Errorf("GET /%s of an 8 KiB URL = %d with a Location of %d bytes %s, want 302 and the URL", longCode, r.Status, len(r.Header.Get("Location")), r.Body)
		}

		// nginx would rewrite a Location that starts with the upstream's
		// name unless told not to.
		const lookalike = "http://shortlinks/kept"
		lcode := createVia(t, c, base, lookalike)
		if r := apptest.MustDo(t, c, http.MethodGet, base+"/"+lcode, ""); r.Status != http.StatusFound || r.Header.Get("Location") != lookalike {
			t.Errorf("GET /%s = %d %q, want 302 %q byte for byte", lcode, r.Status, r.Header.Get("Location"), lookalike)
		}

		// The web form compares a browser's Origin with Host: the instance
		// must see the Host the browser used, port and all.
		form := "url=" + url.QueryEscape("https://example.com/form") + "&expires_in="
		for origin, want := range map[string]int{base: http.StatusCreated, "https://elsewhere.example": http.StatusForbidden} {
			r := apptest.MustDo(t, c, http.MethodPost, base+"/", form, "Content-Type", "application/x-www-form-urlencoded", "Origin", origin)
			if r.Status != want {
				t.Errorf("the web form posted through the gateway from %s = %d, want %d", origin, r.Status, want)
			}
		}

		r := apptest.MustDo(t, c, http.MethodGet, base+"/gateway/healthz", "")
		if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/json" || string(r.Body) != "{\"status\":\"ok\"}\n" {
			t.Errorf("GET /gateway/healthz = %d %q %q, want 200 {\"status\":\"ok\"}", r.Status, r.Header.Get("Content-Type"), r.Body)
		}
		for _, path := range []string{"/healthz", "/readyz"} {
			id := "proxy-" + path[1:]
			r := apptest.MustDo(t, c, http.MethodGet, base+path, "", "X-Request-ID", id)
			e := gw.logged(t, id)[id]
			if r.Status != http.StatusOK || (e.UpstreamAddr != hostA && e.UpstreamAddr != hostB) {
				t.Errorf("GET %s = %d from upstream %q, want 200 from an instance", path, r.Status, e.UpstreamAddr)
			}
		}

		// /metrics is for scrapers on the instances, not for the public.
		wantJSONError(t, "GET /metrics through the gateway", apptest.MustDo(t, c, http.MethodGet, base+"/metrics", ""), http.StatusNotFound, "not_found")
		wantJSONError(t, "GET /%6detrics through the gateway", apptest.MustDo(t, c, http.MethodGet, base+"/%6detrics", ""), http.StatusNotFound, "not_found")
		if r := apptest.MustDo(t, c, http.MethodGet, a.URL+"/metrics", ""); r.Status != http.StatusOK {
			t.Errorf("GET /metrics on an instance = %d, want 200", r.Status)
		}

		big := fmt.Sprintf(`{"url":"https://example.com/%s"}`, strings.Repeat("a", 100<<10))
		r = apptest.MustDo(t, c, http.MethodPost, base+"/api/v1/links", big, "X-Request-ID", "proxy-too-large")
		wantJSONError(t, "POST of 100 KiB", r, http.StatusRequestEntityTooLarge, "body_too_large")
		if e := gw.logged(t, "proxy-too-large")["proxy-too-large"]; e.UpstreamAddr != "" {
			t.Errorf("a body over the limit reached %q, want it refused by the gateway", e.UpstreamAddr)
		}
	})

	t.Run("StaticFromCache", func(t *testing.T) {
		c := clientFrom("127.0.0.16")
		page := apptest.MustDo(t, c, http.MethodGet, base+"/", "", "Accept", "text/html")
		asset := regexp.MustCompile(`/static/app\.[0-9a-f]{12}\.css`).Find(page.Body)
		if page.Status != http.StatusOK || asset == nil {
			t.Fatalf("GET / = %d without a hashed style sheet:\n%s", page.Status, page.Body)
		}
		// The first fetch of a hashed asset reaches an instance; the gateway
		// keeps it, and answers every later fetch itself, with a request id
		// of its own each time.
		var ids []string
		var bodies [][]byte
		for i := range 3 {
			id := fmt.Sprintf("static-%d", i)
			r := apptest.MustDo(t, c, http.MethodGet, base+string(asset), "", "X-Request-ID", id)
			want := "HIT"
			if i == 0 {
				want = "MISS"
			}
			if r.Status != http.StatusOK || r.Header.Get("X-Cache-Status") != want || r.Header.Get("X-Request-ID") != id ||
				r.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || r.Header.Get("Content-Type") != "text/css; charset=utf-8" {
				t.Fatalf("fetch %d of %s = %d, X-Cache-Status %q, X-Request-ID %q, Cache-Control %q, Content-Type %q; want 200 %s with its own id, immutable CSS",
					i, asset, r.Status, r.Header.Get("X-Cache-Status"), r.Header.Get("X-Request-ID"), r.Header.Get("Cache-Control"), r.Header.Get("Content-Type"), want)
			}
			ids = append(ids, id)
			bodies = append(bodies, r.Body)
		}
		if !bytes.Equal(bodies[0], bodies[2]) || len(bodies[0]) == 0 {
			t.Errorf("the kept style sheet differs from the one the instance sent")
		}
		logged := gw.logged(t, ids...)
		for i, id := range ids {
			e := logged[id]
			reached := e.UpstreamAddr == hostA || e.UpstreamAddr == hostB
			if i == 0 && (!reached || e.CacheStatus != "MISS") || i > 0 && (e.UpstreamAddr != "" || e.CacheStatus != "HIT") {
				t.Errorf("fetch %d logged as %+v: want only the first to reach an instance", i, e)
			}
		}

		// A plain name must be revalidated (no-cache): every fetch reaches
		// an instance.
		for i := range 2 {
			id := fmt.Sprintf("static-plain-%d", i)
			r := apptest.MustDo(t, c, http.MethodGet, base+"/static/app.css", "", "X-Request-ID", id)
			if e := gw.logged(t, id)[id]; r.Status != http.StatusOK || r.Header.Get("X-Cache-Status") == "HIT" || e.UpstreamAddr == "" {
				t.Errorf("fetch %d of /static/app.css = %d %q from upstream %q, want each from an instance", i, r.Status, r.Header.Get("X-Cache-Status"), e.UpstreamAddr)
			}
		}
	})

	t.Run("RequestID", func(t *testing.T) {
		c := clientFrom("127.0.0.11")
		code := createVia(t, c, base, "https://example.com/id")

		// The client's own id reaches the instance and comes back.
		const own = "client/chosen.id:42"
		if r := apptest.MustDo(t, c, http.MethodGet, base+"/"+code, "", "X-Request-ID", own); r.Header.Get("X-Request-ID") != own {
			t.Errorf("X-Request-ID %q came back as %q", own, r.Header.Get("X-Request-ID"))
		}
		// Without one, nginx makes one; the instance takes it (its own look
		// different) and echoes it.
		r := apptest.MustDo(t, c, http.MethodGet, base+"/"+code, "")
		made := r.Header.Get("X-Request-ID")
		if !generatedRequestID.MatchString(made) {
			t.Fatalf("a request without X-Request-ID came back with %q, want one made by the gateway", made)
		}
		gw.logged(t, own, made)
		// An id Shortlinks would not take is replaced by one nginx makes.
		for _, bad := range []string{strings.Repeat("x", 129), `a"b`, `a\b`, "a b", "é"} {
			r := apptest.MustDo(t, c, http.MethodGet, base+"/"+code, "", "X-Request-ID", bad)
			if got := r.Header.Get("X-Request-ID"); !generatedRequestID.MatchString(got) {
				t.Errorf("X-Request-ID %.20q came back as %q, want it replaced", bad, got)
			}
		}

		// The instance logs the create under the client's id and address,
		// not under the gateway's, nor under the address the client claims.
		const createID = "create-through-gateway"
		r = apptest.MustDo(t, clientFrom("127.0.0.12"), http.MethodPost, base+"/api/v1/links", `{"url":"https://example.com/logged"}`,
			"X-Request-ID", createID, "X-Forwarded-For", "203.0.113.9")
		if r.Status != http.StatusCreated || r.Header.Get("X-Request-ID") != createID {
			t.Fatalf("create = %d with X-Request-ID %q, want 201 with %q", r.Status, r.Header.Get("X-Request-ID"), createID)
		}
		var line map[string]any
		servicetest.Eventually(t, 5*time.Second, "the instance logs the create", func() error {
			for _, p := range []*apptest.Process{a, b} {
				for _, l := range instanceRequests(p) {
					if l["request_id"] == createID {
						line = l
						return nil
					}
				}
			}
			return errors.New("no request line with the id")
		})
		if line["client_ip"] != "127.0.0.12" || line["path"] != "/api/v1/links" {
			t.Errorf("the instance logged the create as %v, want path /api/v1/links from client_ip 127.0.0.12", line)
		}
	})

	t.Run("RateLimit", func(t *testing.T) {
		const dest = "https://example.com/limits"
		code := createVia(t, clientFrom("127.0.0.13"), base, dest)
		c := clientFrom("127.0.0.20")
		// Creates as fast as one client can send them, each followed by
		// redirects from the same client.
		const creates, burst = 60, 20
		var statuses []int
		var limitedIDs []string
		redirects := 0
		start := time.Now()
		for i := range creates {
			id := fmt.Sprintf("burst-%d", i)
			r := apptest.MustDo(t, c, http.MethodPost, base+"/api/v1/links", fmt.Sprintf(`{"url":"https://example.com/burst/%d"}`, i), "X-Request-ID", id)
			statuses = append(statuses, r.Status)
			if r.Status == http.StatusTooManyRequests {
				wantJSONError(t, "a create over the limit", r, http.StatusTooManyRequests, "rate_limited")
				if r.Header.Get("Retry-After") != "1" || r.Header.Get("X-Request-ID") != id {
					t.Fatalf("429 with Retry-After %q and X-Request-ID %q, want 1 and %q", r.Header.Get("Retry-After"), r.Header.Get("X-Request-ID"), id)
				}
				limitedIDs = append(limitedIDs, id)
			}
			for range 3 {
				if r := apptest.MustDo(t, c, http.MethodGet, base+"/"+code, ""); r.Status != http.StatusFound || r.Header.Get("Location") != dest {
					t.Fatalf("a redirect during the burst of creates = %d %q, want 302 %q", r.Status, r.Header.Get("Location"), dest)
				}
				redirects++
			}
		}
		elapsed := time.Since(start)
		created := 0
		for i, s := range statuses {
			switch {
			case s == http.StatusCreated:
				created++
			case s != http.StatusTooManyRequests:
				t.Fatalf("create %d = %d, want 201 or 429", i, s)
			case i <= burst:
				t.Fatalf("create %d = 429, want the first %d allowed at once", i, burst+1)
			}
		}
		// 10 per second after the first burst+1 at once.
		allowed := burst + 1 + int(elapsed/(100*time.Millisecond)) + 1
		t.Logf("%d creates and %d redirects from one client in %v: %d created, %d limited (at most %d allowed); every redirect 302",
			creates, redirects, elapsed.Round(time.Millisecond), created, creates-created, allowed)
		if created > allowed || created == creates {
			t.Fatalf("%d of %d creates in %v went through, want at most %d", created, creates, elapsed, allowed)
		}
		for id, e := range gw.logged(t, limitedIDs...) {
			if e.Status != http.StatusTooManyRequests || e.LimitReqStatus != "REJECTED" || e.UpstreamAddr != "" {
				t.Errorf("%s logged as %+v, want a 429 REJECTED by the gateway without reaching an instance", id, e)
			}
		}

		// The limit is per client: another one creates at once, and this one
		// again a moment later.
		createVia(t, clientFrom("127.0.0.21"), base, "https://example.com/other-client")
		servicetest.Eventually(t, 2*time.Second, "the limited client may create again", func() error {
			r, err := apptest.Do(c, http.MethodPost, base+"/api/v1/links", `{"url":"https://example.com/later"}`)
			if err == nil && r.Status != http.StatusCreated {
				err = fmt.Errorf("status %d", r.Status)
			}
			return err
		})
	})

	t.Run("PostNeverRetried", func(t *testing.T) {
		// One instance here dies after reading each request, before answering.
		dying := startDyingInstance(t)
		gwAddr := servicetest.FreeAddr(t)
		gw := startGateway(t, nginx, gwAddr, []string{"127.0.0.1"}, dying.Process, a)
		gw.WaitReady(t)
		gwBase := "http://" + gwAddr
		c := clientFrom("127.0.0.14")

		var lost string
		var made []string
		for i := 0; lost == ""; i++ {
			if i == 10 {
				t.Fatal("no create reached the dying instance")
			}
			id := fmt.Sprintf("once-%d", i)
			r := apptest.MustDo(t, c, http.MethodPost, gwBase+"/api/v1/links", `{"url":"https://example.com/once"}`, "X-Request-ID", id)
			switch {
			case !dying.got("POST " + id):
				if r.Status != http.StatusCreated {
					t.Fatalf("create %s = %d %s, want 201 from the live instance", id, r.Status, r.Body)
				}
				made = append(made, id)
			case r.Status == http.StatusCreated:
				t.Fatalf("create %s reached the dying instance, then was sent again and made a link", id)
			default:
				wantJSONError(t, "a create whose instance died before answering", r, http.StatusBadGateway, "unavailable")
				lost = id
			}
		}
		// The other instance logs every create it made, and not the lost one:
		// nginx did not send it again.
		servicetest.Eventually(t, 5*time.Second, "the other instance logs its creates", func() error {
			logged := map[any]bool{}
			for _, l := range instanceRequests(a) {
				logged[l["request_id"]] = true
			}
			if logged[lost] {
				t.Fatalf("create %s reached the dying instance and was sent again to %s", lost, a.URL)
			}
			for _, id := range made {
				if !logged[id] {
					return fmt.Errorf("create %s not logged yet", id)
				}
			}
			return nil
		})

		// A redirect that meets the same fate is sent to the other instance.
		const dest = "https://example.com/retried"
		code := createVia(t, clientFrom("127.0.0.15"), base, dest)
		for i := 0; ; i++ {
			if i == 10 {
				t.Fatal("no redirect reached the dying instance")
			}
			id := fmt.Sprintf("again-%d", i)
			if r := apptest.MustDo(t, c, http.MethodGet, gwBase+"/"+code, "", "X-Request-ID", id); r.Status != http.StatusFound || r.Header.Get("Location") != dest {
				t.Fatalf("GET /%s = %d %q, want 302 %q", code, r.Status, r.Header.Get("Location"), dest)
			}
			if dying.got("GET " + id) {
				break
			}
		}
	})

	t.Run("InstanceKilled", func(t *testing.T) {
		setup := clientFrom("127.0.0.30")
		dests := map[string]string{}
		var codes []string
		for i := range 8 {
			dest := fmt.Sprintf("https://example.com/stream/%d", i)
			code := createVia(t, setup, base, dest)
			dests[code] = dest
			codes = append(codes, code)
		}
		const clients, perClient = 8, 1000
		const total = clients * perClient
		var done atomic.Int64
		killNow := make(chan struct{})
		failures := make([][]string, clients)
		slowest := make([]time.Duration, clients)
		var ids []string
		for w := range clients {
			for i := range perClient {
				ids = append(ids, fmt.Sprintf("stream-%d-%d", w, i))
			}
		}
		var wg sync.WaitGroup
		start := time.Now()
		for w := range clients {
			wg.Go(func() {
				c := clientFrom(fmt.Sprintf("127.0.0.%d", 40+w))
				for i := range perClient {
					code := codes[(w+i)%len(codes)]
					t0 := time.Now()
					r, err := apptest.Do(c, http.MethodGet, base+"/"+code, "", "X-Request-ID", ids[w*perClient+i])
					slowest[w] = max(slowest[w], time.Since(t0))
					switch {
					case err != nil:
						failures[w] = append(failures[w], fmt.Sprintf("GET /%s: %v", code, err))
					case r.Status != http.StatusFound || r.Header.Get("Location") != dests[code]:
						failures[w] = append(failures[w], fmt.Sprintf("GET /%s = %d %q %s", code, r.Status, r.Header.Get("Location"), r.Body))
					}
					if done.Add(1) == total/3 {
						close(killNow)
					}
				}
			})
		}
		<-killNow
		if err := b.Cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-b.Exited
		afterKill := total - int(done.Load())
		wg.Wait()
		elapsed := time.Since(start)

		var failed []string
		for _, f := range failures {
			failed = append(failed, f...)
		}
		byB, retried := 0, 0
		for _, e := range gw.logged(t, ids...) {
			switch {
			case e.UpstreamAddr == hostB:
				byB++
			case strings.Contains(e.UpstreamAddr, hostB) && strings.HasSuffix(e.UpstreamAddr, hostA):
				retried++
			}
		}
		t.Logf("%d redirects from %d clients in %v (%.0f/s), slowest %v; instance %s SIGKILLed with %d still to answer; "+
			"%d answered by it, %d retried on %s after failing on it; %d failed",
			total, clients, elapsed.Round(time.Millisecond), total/elapsed.Seconds(), slices.Max(slowest).Round(time.Microsecond),
			hostB, afterKill, byB, retried, hostA, len(failed))
		if len(failed) > 0 {
			t.Fatalf("%d of %d redirects failed while an instance was killed; the first: %s", len(failed), total, failed[0])
		}
		if afterKill < total/4 || byB == 0 || retried == 0 {
			t.Fatalf("the kill did not happen in the middle of the stream (%d requests after it, %d served by the killed instance, %d retried)", afterKill, byB, retried)
		}
	})
}

// TestGatewayStorageDown checks that while PostgreSQL is down the gateway
// passes on the instances' 503s and keeps passing the redirects they can
// still serve from their caches: the 503s must not count against the
// instances in nginx, or it would soon stop sending them anything.
func TestGatewayStorageDown(t *testing.T) {
	nginx := nginxBinary(t)
	primary := pgtest.StartPrimary(t)
	dsn := primary.Database(t)
	bin := apptest.Binary(t)
	addr := servicetest.FreeAddr(t)
	base := "http://" + addr
	args := []string{"--database-url", dsn, "--auto-migrate", "--database-max-conns", "4", "--base-url", base,
		"--trusted-proxies", "127.0.0.1/32", "--rate-limit-create", "0", "--database-timeout", "1s", "--cache-ttl", "10m"}
	a := apptest.StartServe(t, bin, args...)
	b := apptest.StartServe(t, bin, args...)
	a.WaitReady(t)
	b.WaitReady(t)
	gw := startGateway(t, nginx, addr, []string{"127.0.0.1"}, a, b)
	gw.WaitReady(t)

	c := clientFrom("127.0.0.60")
	const dest = "https://example.com/cached"
	code := createVia(t, c, base, dest)
	for _, p := range []*apptest.Process{a, b} {
		apptest.MustRedirect(t, p.URL, code, dest) // now in both instances' memory
	}
	primary.Stop(t)

	const failing, cached = 10, 20
	for i := range failing {
		r := apptest.MustDo(t, c, http.MethodPost, base+"/api/v1/links", fmt.Sprintf(`{"url":"https://example.com/down/%d"}`, i))
		wantJSONError(t, "a create with PostgreSQL down", r, http.StatusServiceUnavailable, "storage_unavailable")
		r = apptest.MustDo(t, c, http.MethodGet, base+fmt.Sprintf("/uncached%d", i), "")
		wantJSONError(t, "a redirect the instances have not cached, with PostgreSQL down", r, http.StatusServiceUnavailable, "storage_unavailable")
	}
	for range cached {
		if r := apptest.MustDo(t, c, http.MethodGet, base+"/"+code, ""); r.Status != http.StatusFound || r.Header.Get("Location") != dest {
			t.Fatalf("GET /%s after %d failed creates and redirects = %d %q %s, want 302 %q from an instance's cache",
				code, 2*failing, r.Status, r.Header.Get("Location"), r.Body, dest)
		}
	}
	t.Logf("with PostgreSQL down: %d creates and %d uncached redirects answered 503 storage_unavailable, then %d cached redirects 302",
		failing, failing, cached)
}
