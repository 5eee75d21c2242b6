package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/link"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "the admin's long password"
)

// dashServer is the real service on a loopback port over a fresh SQLite
// database, with a first admin, and its origin.
type dashServer struct {
	base string
}

// withAdmin makes the first administrator at start; noCreateLimit turns
// off the create rate limit.
func withAdmin(c *config.Config)     { c.AdminEmail, c.AdminPassword = adminEmail, adminPassword }
func noCreateLimit(c *config.Config) { c.CreateRate = 0 }

func newDashServer(t *testing.T, set ...func(*config.Config)) *dashServer {
	t.Helper()
	srv := apptest.Start(t, slog.New(slog.NewTextHandler(t.Output(), nil)), app.Telemetry{},
		append([]func(*config.Config){withAdmin, noCreateLimit}, set...)...)
	return &dashServer{base: srv.URL}
}

// browser is a client that keeps cookies, as a browser does, and sends
// forms marked as this site's own, as a browser does. It does not follow
// redirects, so that tests see them.
type visitor struct {
	t    *testing.T
	s    *dashServer
	http *http.Client
}

func (s *dashServer) visitor(t *testing.T) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: t, s: s, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}}
}

// answer is a response with its body read.
type answer struct {
	status int
	header http.Header
	body   string
}

func (b *visitor) do(method, path string, form url.Values, site string) answer {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.s.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", site)
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(raw)}
}

func (b *visitor) get(path string) answer { return b.do(http.MethodGet, path, nil, "same-origin") }

func (b *visitor) post(path string, form url.Values) answer {
	return b.do(http.MethodPost, path, form, "same-origin")
}

// signIn signs in and checks that it worked.
func (b *visitor) signIn(email, password string) {
	b.t.Helper()
	a := b.post("/login", url.Values{"email": {email}, "password": {password}, "next": {"/links"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/links" {
		b.t.Fatalf("sign in as %s: %d %s\n%s", email, a.status, a.header.Get("Location"), a.body)
	}
}

func wantStatus(t *testing.T, what string, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, a.status, status, a.body)
	}
}

func wantRedirect(t *testing.T, what string, a answer, to string) {
	t.Helper()
	if a.status != http.StatusSeeOther || a.header.Get("Location") != to {
		t.Fatalf("%s: %d to %q, want 303 to %q\n%s", what, a.status, a.header.Get("Location"), to, a.body)
	}
}

func wantBody(t *testing.T, what string, a answer, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(a.body, p) {
			t.Errorf("%s: the page does not hold %q", what, p)
		}
	}
}

// addUser makes a member through the users page, as admin.
func addUser(t *testing.T, admin *visitor, email, password string) {
	t.Helper()
	a := admin.post("/users", url.Values{"email": {email}, "password": {password}, "role": {"member"}})
	wantRedirect(t, "add "+email, a, "/users")
}

var codeInPath = regexp.MustCompile(`^/links/([A-Za-z0-9_-]+)$`)

// dashCreateLink creates a link through the dashboard and returns its code.
func dashCreateLink(t *testing.T, b *visitor, dest, alias string) string {
	t.Helper()
	a := b.post("/links", url.Values{"url": {dest}, "alias": {alias}, "expires_in": {""}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("create a link: status %d\n%s", a.status, a.body)
	}
	m := codeInPath.FindStringSubmatch(a.header.Get("Location"))
	if m == nil {
		t.Fatalf("create a link: went to %q", a.header.Get("Location"))
	}
	return m[1]
}

func TestDashboardSignIn(t *testing.T) {
	s := newDashServer(t)
	b := s.visitor(t)

	wantRedirect(t, "links before signing in", b.get("/links"), "/login?next=%2Flinks")
	login := b.get("/login?next=/keys")
	wantStatus(t, "sign-in form", login, http.StatusOK)
	wantBody(t, "sign-in form", login, `<label for="email">`, `<label for="password">`, `name="next" value="/keys"`)
	if csp := login.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}

	a := b.post("/login", url.Values{"email": {""}, "password": {""}})
	wantStatus(t, "empty form", a, http.StatusBadRequest)
	wantBody(t, "empty form", a, `id="email-error">Enter your email address.`, `id="password-error">Enter your password.`)

	a = b.post("/login", url.Values{"email": {adminEmail}, "password": {"not the password"}})
	wantStatus(t, "wrong password", a, http.StatusUnauthorized)
	wantBody(t, "wrong password", a, "The email address or the password is not right.", `value="admin@example.com"`)

	// Another site cannot post the form, even with the right password.
	a = b.do(http.MethodPost, "/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}, "cross-site")
	wantStatus(t, "sign in from another site", a, http.StatusForbidden)

	// Only a path on this site is followed after signing in.
	a = b.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}, "next": {"//evil.example/"}})
	wantRedirect(t, "sign in with an outside next", a, "/links")
	var cookie string
	for _, c := range a.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, account.CookieName+"=") {
			cookie = c
		}
	}
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") || strings.Contains(cookie, "Secure") {
		t.Errorf("session cookie over http %q: want HttpOnly, SameSite=Lax, not Secure", cookie)
	}
	links := b.get("/links")
	wantStatus(t, "links", links, http.StatusOK)
	wantBody(t, "links", links, "Signed in as admin@example.com.", "All links", `href="/users"`)
	if again := b.get("/links"); strings.Contains(again.body, "Signed in as") {
		t.Error("the flash message shows twice")
	}
	wantRedirect(t, "the sign-in form when signed in", b.get("/login"), "/links")

	// Signing out is a post from this site only.
	wantStatus(t, "sign out from another site", b.do(http.MethodPost, "/logout", url.Values{}, "cross-site"), http.StatusForbidden)
	wantStatus(t, "still signed in", b.get("/links"), http.StatusOK)
	wantRedirect(t, "sign out", b.post("/logout", url.Values{}), "/login?signed_out=here")
	wantRedirect(t, "links after signing out", b.get("/links"), "/login?next=%2Flinks")
	wantStatus(t, "GET /logout", b.get("/logout"), http.StatusMethodNotAllowed)
}

func TestDashboardSecureCookie(t *testing.T) {
	h := newHandler(t, withAdmin)
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"email": {adminEmail}, "password": {adminPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("sign in: %d\n%s", w.Code, w.Body)
	}
	c := w.Header().Get("Set-Cookie")
	if !strings.HasPrefix(c, "__Host-"+account.CookieName+"=") || !strings.Contains(c, "Secure") || !strings.Contains(c, "HttpOnly") {
		t.Errorf("session cookie with an https base URL: %q", c)
	}
}

func TestDashboardSignInLimited(t *testing.T) {
	s := newDashServer(t)
	b := s.visitor(t)
	var a answer
	for range 12 {
		a = b.post("/login", url.Values{"email": {adminEmail}, "password": {"a wrong guess"}})
		if a.status != http.StatusUnauthorized {
			break
		}
	}
	wantStatus(t, "the 12th wrong password", a, http.StatusTooManyRequests)
	wantBody(t, "limited", a, "Too many sign-in attempts. Wait ")
	if a.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// Even the right password waits now.
	wantStatus(t, "the right password while limited", b.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}), http.StatusTooManyRequests)
}

func TestDashboardDisabledUser(t *testing.T) {
	s := newDashServer(t)
	admin, member := s.visitor(t), s.visitor(t)
	admin.signIn(adminEmail, adminPassword)
	addUser(t, admin, "bo@example.com", "bo's long password")
	member.signIn("bo@example.com", "bo's long password")
	wantStatus(t, "member's links", member.get("/links"), http.StatusOK)
	wantStatus(t, "member on the users page", member.get("/users"), http.StatusForbidden)
	wantStatus(t, "member adds a user", member.post("/users", url.Values{"email": {"x@example.com"}, "password": {"x's long password"}}), http.StatusForbidden)

	users := admin.get("/users")
	id := regexp.MustCompile(`id="user-(\d+)">\s*<th scope="row">bo@example.com`).FindStringSubmatch(users.body)
	if id == nil {
		t.Fatalf("bo is not on the users page:\n%s", users.body)
	}
	wantRedirect(t, "disable bo", admin.post("/users/"+id[1]+"/disable", url.Values{}), "/users")
	wantBody(t, "after disabling", admin.get("/users"), "Disabled the user", "disabled ")
	wantRedirect(t, "a disabled member's session", member.get("/links"), "/login?next=%2Flinks")
	wantStatus(t, "a disabled member signs in", member.post("/login", url.Values{"email": {"bo@example.com"}, "password": {"bo's long password"}}), http.StatusUnauthorized)

	wantRedirect(t, "enable bo", admin.post("/users/"+id[1]+"/enable", url.Values{}), "/users")
	wantRedirect(t, "reset bo's password", admin.post("/users/"+id[1]+"/password", url.Values{"password": {"bo's second password"}}), "/users")
	wantStatus(t, "the old password", member.post("/login", url.Values{"email": {"bo@example.com"}, "password": {"bo's long password"}}), http.StatusUnauthorized)
	member.signIn("bo@example.com", "bo's second password")

	// Mistakes come back beside their input, or in the summary.
	a := admin.post("/users", url.Values{"email": {"not an email"}, "password": {"a long enough password"}, "role": {"member"}})
	wantStatus(t, "a bad email", a, http.StatusBadRequest)
	wantBody(t, "a bad email", a, `id="email-error"`, `value="not an email"`)
	a = admin.post("/users", url.Values{"email": {"BO@example.com"}, "password": {"a long enough password"}, "role": {"member"}})
	wantStatus(t, "a taken email", a, http.StatusConflict)
	a = admin.post("/users", url.Values{"email": {"cy@example.com"}, "password": {"short"}, "role": {"member"}})
	wantStatus(t, "a short password", a, http.StatusBadRequest)
	wantBody(t, "a short password", a, `id="password-error"`)
	a = admin.post("/users/1/disable", url.Values{})
	wantStatus(t, "disable the last admin", a, http.StatusConflict)
	wantBody(t, "disable the last admin", a, "last active administrator")
	wantStatus(t, "a user from another site", admin.do(http.MethodPost, "/users", url.Values{"email": {"z@example.com"}, "password": {"z's long password"}}, "cross-site"), http.StatusForbidden)
}

func TestDashboardExpiredSession(t *testing.T) {
	s := newDashServer(t, func(c *config.Config) { c.SessionIdleTimeout, c.SessionLifetime = time.Second, 2*time.Second })
	b := s.visitor(t)
	b.signIn(adminEmail, adminPassword)
	wantStatus(t, "links", b.get("/links"), http.StatusOK)
	time.Sleep(1500 * time.Millisecond)
	wantRedirect(t, "links after the idle timeout", b.get("/links"), "/login?next=%2Flinks")
}

func TestDashboardSignOutEverywhere(t *testing.T) {
	s := newDashServer(t)
	laptop, phone := s.visitor(t), s.visitor(t)
	laptop.signIn(adminEmail, adminPassword)
	phone.signIn(adminEmail, adminPassword)
	wantBody(t, "account", laptop.get("/account"), "admin@example.com", "Sign out everywhere")
	wantRedirect(t, "sign out everywhere", laptop.post("/account/sign-out-everywhere", url.Values{}), "/login?signed_out=everywhere")
	wantRedirect(t, "the phone", phone.get("/links"), "/login?next=%2Flinks")
	wantRedirect(t, "the laptop", laptop.get("/links"), "/login?next=%2Flinks")
}

// linksHaveUsers reports whether links record the user who made them, as
// they must for members to see their own links on the dashboard; links
// made before that record only the API key that made them.
func linksHaveUsers() bool {
	_, ok := reflect.TypeFor[link.Link]().FieldByName("UserID")
	return ok
}

func TestDashboardLinks(t *testing.T) {
	s := newDashServer(t)
	admin, ann, bo := s.visitor(t), s.visitor(t), s.visitor(t)
	admin.signIn(adminEmail, adminPassword)
	addUser(t, admin, "ann@example.com", "ann's long password")
	addUser(t, admin, "bo@example.com", "bo's long password")
	ann.signIn("ann@example.com", "ann's long password")
	bo.signIn("bo@example.com", "bo's long password")

	// Errors by field, what was typed kept.
	a := ann.post("/links", url.Values{"url": {"javascript:alert(1)"}, "alias": {"anns"}, "expires_in": {""}})
	wantStatus(t, "a javascript URL", a, http.StatusBadRequest)
	wantBody(t, "a javascript URL", a, `id="url-error">Only http and https URLs can be shortened.`, `value="anns"`)
	wantStatus(t, "an unknown expiry", ann.post("/links", url.Values{"url": {"https://example.com/"}, "expires_in": {"17"}}), http.StatusBadRequest)
	wantStatus(t, "create from another site", ann.do(http.MethodPost, "/links", url.Values{"url": {"https://example.com/x"}, "expires_in": {""}}, "cross-site"), http.StatusForbidden)

	// The admin's link: its page, and members neither see nor reach it.
	code := dashCreateLink(t, admin, "https://example.com/admin", "admins-link")
	if code != "admins-link" {
		t.Fatalf("the admin's link is %q", code)
	}
	page := admin.get("/links/admins-link")
	wantStatus(t, "the admin's link page", page, http.StatusOK)
	wantBody(t, "the admin's link page", page, "Created "+s.base+"/admins-link.", "https://example.com/admin",
		`src="/api/v1/links/admins-link/qr?format=svg"`, `href="/links/admins-link/delete"`)
	wantStatus(t, "a taken alias", admin.post("/links", url.Values{"url": {"https://example.com/2"}, "alias": {"admins-link"}, "expires_in": {""}}), http.StatusConflict)
	wantBody(t, "the admin's list", admin.get("/links"), "All links", "https://example.com/admin")
	annList := ann.get("/links")
	wantBody(t, "ann's list", annList, "Your links")
	if strings.Contains(annList.body, "admins-link") {
		t.Error("ann's list shows the admin's link")
	}
	if strings.Contains(annList.body, `href="/users"`) {
		t.Error("a member is offered the users page")
	}
	wantStatus(t, "the admin's link page, for ann", ann.get("/links/admins-link"), http.StatusNotFound)
	wantStatus(t, "the admin's delete page, for ann", ann.get("/links/admins-link/delete"), http.StatusNotFound)
	wantRedirect(t, "ann deletes the admin's link", ann.post("/links/admins-link/delete", url.Values{}), "/links")
	wantBody(t, "after", ann.get("/links"), "There is no link admins-link to delete.")
	wantStatus(t, "the admin's link survives", admin.get("/links/admins-link"), http.StatusOK)

	// Deleting asks first.
	confirm := admin.get("/links/admins-link/delete")
	wantStatus(t, "confirm", confirm, http.StatusOK)
	wantBody(t, "confirm", confirm, "Delete admins-link?", `action="/links/admins-link/delete"`, "Keep it")
	wantStatus(t, "delete from another site", admin.do(http.MethodPost, "/links/admins-link/delete", url.Values{}, "cross-site"), http.StatusForbidden)
	wantRedirect(t, "delete", admin.post("/links/admins-link/delete", url.Values{}), "/links")
	wantBody(t, "after deleting", admin.get("/links"), "Deleted "+s.base+"/admins-link.")
	wantStatus(t, "the deleted link's page", admin.get("/links/admins-link"), http.StatusNotFound)
	wantStatus(t, "a bad cursor", admin.get("/links?after=nonsense"), http.StatusBadRequest)

	if !linksHaveUsers() {
		t.Skip("links do not record the user who made them yet, so members cannot see their own links")
	}
	// Members see their own links only.
	annCode := dashCreateLink(t, ann, "https://example.com/ann", "anns-link")
	wantBody(t, "ann's link page", ann.get("/links/"+annCode), "https://example.com/ann")
	boCode := dashCreateLink(t, bo, "https://example.com/bo", "")
	annList = ann.get("/links")
	wantBody(t, "ann's list", annList, "https://example.com/ann")
	if strings.Contains(annList.body, boCode) {
		t.Error("ann's list shows bo's link")
	}
	wantStatus(t, "bo's link page, for ann", ann.get("/links/"+boCode), http.StatusNotFound)
	wantRedirect(t, "ann deletes bo's link", ann.post("/links/"+boCode+"/delete", url.Values{}), "/links")
	wantStatus(t, "bo's link survives", bo.get("/links/"+boCode), http.StatusOK)
	wantBody(t, "the admin's list", admin.get("/links"), "https://example.com/ann", "https://example.com/bo")
	wantRedirect(t, "ann deletes her link", ann.post("/links/"+annCode+"/delete", url.Values{}), "/links")
	wantStatus(t, "ann's deleted link", ann.get("/links/"+annCode), http.StatusNotFound)
}

func TestDashboardPagination(t *testing.T) {
	s := newDashServer(t)
	admin := s.visitor(t)
	admin.signIn(adminEmail, adminPassword)
	for i := range 27 {
		dashCreateLink(t, admin, "https://example.com/page/"+string(rune('a'+i)), "")
	}
	first := admin.get("/links")
	next := regexp.MustCompile(`href="(/links\?after=[^"]+)" id="next-page"`).FindStringSubmatch(first.body)
	if next == nil {
		t.Fatal("no link to the next page")
	}
	second := admin.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	wantStatus(t, "the second page", second, http.StatusOK)
	if n := strings.Count(first.body, `<th scope="row">`) + strings.Count(second.body, `<th scope="row">`); n != 27 {
		t.Errorf("the two pages show %d links, want 27", n)
	}
	if strings.Contains(second.body, `id="next-page"`) {
		t.Error("the last page offers another")
	}
}

func TestDashboardKeys(t *testing.T) {
	s := newDashServer(t)
	admin, ann := s.visitor(t), s.visitor(t)
	admin.signIn(adminEmail, adminPassword)
	addUser(t, admin, "ann@example.com", "ann's long password")
	ann.signIn("ann@example.com", "ann's long password")

	keys := ann.get("/keys")
	wantStatus(t, "keys", keys, http.StatusOK)
	wantBody(t, "keys", keys, "You have no API keys yet.", `value="links:read"`)
	if strings.Contains(keys.body, `value="admin"`) {
		t.Error("a member is offered the admin scope")
	}
	a := ann.post("/keys", url.Values{"name": {""}, "expires_in": {""}})
	wantStatus(t, "no name, no scope", a, http.StatusBadRequest)
	wantBody(t, "no name, no scope", a, `id="name-error"`, `id="scopes-error">Choose at least one scope.`)
	wantStatus(t, "the admin scope, for a member", ann.post("/keys", url.Values{"name": {"x"}, "scopes": {"admin"}, "expires_in": {""}}), http.StatusForbidden)
	wantStatus(t, "a key from another site", ann.do(http.MethodPost, "/keys", url.Values{"name": {"x"}, "scopes": {"links:read"}, "expires_in": {""}}, "cross-site"), http.StatusForbidden)

	a = ann.post("/keys", url.Values{"name": {"deploy"}, "scopes": {"links:read"}, "expires_in": {"2592000"}})
	wantStatus(t, "make a key", a, http.StatusCreated)
	secret := regexp.MustCompile(`<code id="secret">(sl_[A-Za-z0-9]+)</code>`).FindStringSubmatch(a.body)
	if secret == nil {
		t.Fatalf("no secret on the page:\n%s", a.body)
	}
	if strings.Contains(ann.get("/keys").body, secret[1]) {
		t.Error("the secret shows again")
	}
	api := func() int {
		req, _ := http.NewRequest(http.MethodGet, s.base+"/api/v1/links", nil)
		req.Header.Set("Authorization", "Bearer "+secret[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := api(); st != http.StatusOK {
		t.Fatalf("the new key on the API: %d", st)
	}
	id := regexp.MustCompile(`action="/keys/(\d+)/revoke"`).FindStringSubmatch(ann.get("/keys").body)
	if id == nil {
		t.Fatal("no revoke button")
	}
	// Nobody else's key can be revoked.
	wantStatus(t, "the admin's keys", admin.get("/keys"), http.StatusOK)
	wantRedirect(t, "revoke", ann.post("/keys/"+id[1]+"/revoke", url.Values{}), "/keys")
	wantBody(t, "after revoking", ann.get("/keys"), "Revoked key "+id[1]+".", "revoked ")
	if st := api(); st != http.StatusUnauthorized {
		t.Errorf("a revoked key on the API: %d, want 401", st)
	}
	wantStatus(t, "revoke an unknown key", ann.post("/keys/999/revoke", url.Values{}), http.StatusNotFound)
}
