package account_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/account"
)

// site is a tiny dashboard stand-in around Sessions: enough routes to sign
// in, see who is signed in, and sign out.
type site struct {
	f       fixture
	s       *account.Sessions
	handler http.Handler
}

func newSite(t *testing.T, baseURL string) *site {
	t.Helper()
	f := newFixture(t, account.Options{})
	s, err := account.NewSessions(f.svc, f.db, account.SessionOptions{BaseURL: baseURL, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		u, err := f.svc.SignIn(r.Context(), r.FormValue("email"), r.FormValue("password"), "")
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if err := s.SignIn(r.Context(), u); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		u, err := s.Current(r.Context())
		if errors.Is(err, account.ErrNotSignedIn) {
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, u.Email)
	})
	mux.HandleFunc("POST /note", func(w http.ResponseWriter, r *http.Request) {
		s.Manager().Put(r.Context(), "note", "planted")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := s.SignOut(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return &site{f: f, s: s, handler: s.Manager().LoadAndSave(mux)}
}

// browser keeps one cookie, as a browser would for the site.
type browser struct {
	cookie *http.Cookie
}

func (b *browser) do(t *testing.T, s *site, method, path string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	r := httptest.NewRequestWithContext(t.Context(), method, "https://sho.rt"+path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.cookie != nil {
		r.AddCookie(b.cookie)
	}
	w := httptest.NewRecorder()
	s.handler.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			b.cookie = nil
		} else {
			b.cookie = c
		}
	}
	return w
}

func (b *browser) login(t *testing.T, s *site, email, pw string) {
	t.Helper()
	if w := b.do(t, s, "POST", "/login", url.Values{"email": {email}, "password": {pw}}); w.Code != http.StatusOK {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
}

// me returns who the site says is signed in, or "" for nobody.
func (b *browser) me(t *testing.T, s *site) string {
	t.Helper()
	w := b.do(t, s, "GET", "/me", nil)
	switch w.Code {
	case http.StatusOK:
		return w.Body.String()
	case http.StatusUnauthorized:
		return ""
	}
	t.Fatalf("GET /me: %d %s", w.Code, w.Body)
	return ""
}

func TestSessionCookie(t *testing.T) {
	for _, tc := range []struct {
		base   string
		name   string
		secure bool
	}{
		{"https://sho.rt", "__Host-shortlinks_session", true},
		{"http://localhost:8080", "shortlinks_session", false},
	} {
		s := newSite(t, tc.base)
		s.f.mustCreate(t, "alice@example.com", "member")
		var b browser
		b.login(t, s, "alice@example.com", goodPassword)
		c := b.cookie
		if c == nil || c.Name != tc.name || !c.HttpOnly || c.Secure != tc.secure || c.SameSite != http.SameSiteLaxMode ||
			c.Path != "/" || c.Domain != "" {
			t.Fatalf("%s: cookie %+v", tc.base, c)
		}
		if limit := time.Now().Add(account.DefaultIdleTimeout + time.Minute); c.Expires.After(limit) {
			t.Errorf("%s: cookie expires %v, after the idle timeout", tc.base, c.Expires)
		}
		if len(c.Value) < 40 {
			t.Errorf("%s: token %q is short", tc.base, c.Value)
		}
	}
	if _, err := account.NewSessions(nil, nil, account.SessionOptions{BaseURL: "ftp://x"}); err == nil {
		t.Error("NewSessions accepted an ftp base URL")
	}
	if _, err := account.NewSessions(nil, nil, account.SessionOptions{IdleTimeout: 2 * time.Hour, Lifetime: time.Hour}); err == nil {
		t.Error("NewSessions accepted an idle timeout longer than the lifetime")
	}
}

func TestSignInAndOut(t *testing.T) {
	s := newSite(t, "https://sho.rt")
	s.f.mustCreate(t, "alice@example.com", "member")
	var b browser
	if who := b.me(t, s); who != "" {
		t.Fatalf("signed in as %q before signing in", who)
	}
	// A session that exists before signing in, as one an attacker planted
	// would, is not the one signed in to.
	b.do(t, s, "POST", "/note", nil)
	planted := b.cookie
	if planted == nil {
		t.Fatal("no session cookie for an anonymous session")
	}
	b.login(t, s, "alice@example.com", goodPassword)
	if b.cookie.Value == planted.Value {
		t.Fatal("signing in kept the token: session fixation")
	}
	if who := b.me(t, s); who != "alice@example.com" {
		t.Fatalf("signed in as %q", who)
	}
	old := browser{cookie: planted}
	if who := old.me(t, s); who != "" {
		t.Fatalf("the token from before sign-in is signed in as %q", who)
	}

	// The database holds a hash of the token, not the token.
	all, err := s.f.db.AllSessions(t.Context(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(b.cookie.Value))
	if _, ok := all[base64.RawURLEncoding.EncodeToString(sum[:])]; !ok {
		t.Fatalf("no stored session under the hash of the token; stored %d", len(all))
	}
	if _, ok := all[b.cookie.Value]; ok {
		t.Fatal("the token itself is stored")
	}

	if w := b.do(t, s, "POST", "/logout", nil); w.Code != http.StatusOK {
		t.Fatalf("logout: %d", w.Code)
	}
	if who := b.me(t, s); who != "" {
		t.Fatalf("signed in as %q after signing out", who)
	}
}

func TestSignOutEverywhere(t *testing.T) {
	s := newSite(t, "https://sho.rt")
	admin := s.f.mustCreate(t, "admin@example.com", "admin")
	alice := s.f.mustCreate(t, "alice@example.com", "member")
	var laptop, phone, adminBrowser browser
	laptop.login(t, s, "alice@example.com", goodPassword)
	phone.login(t, s, "alice@example.com", goodPassword)
	adminBrowser.login(t, s, "admin@example.com", goodPassword)

	// A request that was under way when the sessions ended stores its
	// session again as it finishes; keep a copy to play that part.
	before, err := s.f.db.AllSessions(t.Context(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.f.svc.SignOutEverywhere(t.Context(), alice.Principal(), alice.ID)
	if err != nil || n != 2 {
		t.Fatalf("SignOutEverywhere = %d, %v; want 2 sessions ended", n, err)
	}
	for token, data := range before {
		if err := s.f.db.CommitSession(t.Context(), token, alice.ID, data, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if who := laptop.me(t, s); who != "" {
		t.Errorf("laptop still signed in as %q", who)
	}
	if who := phone.me(t, s); who != "" {
		t.Errorf("phone still signed in as %q", who)
	}
	if who := adminBrowser.me(t, s); who != "admin@example.com" {
		t.Errorf("another user's session ended too: %q", who)
	}
	// Signing in again works.
	laptop.login(t, s, "alice@example.com", goodPassword)
	if who := laptop.me(t, s); who != "alice@example.com" {
		t.Fatalf("after signing in again: %q", who)
	}

	// Disabling and resetting a password end sessions too.
	if err := s.f.svc.ResetPassword(t.Context(), admin.Principal(), alice.ID, "a brand new password"); err != nil {
		t.Fatal(err)
	}
	if who := laptop.me(t, s); who != "" {
		t.Errorf("signed in as %q after a password reset", who)
	}
	laptop.login(t, s, "alice@example.com", "a brand new password")
	if err := s.f.svc.Disable(t.Context(), admin.Principal(), alice.ID); err != nil {
		t.Fatal(err)
	}
	if who := laptop.me(t, s); who != "" {
		t.Errorf("signed in as %q while disabled", who)
	}
}

func TestSessionExpiry(t *testing.T) {
	s := newSite(t, "https://sho.rt")
	s.f.mustCreate(t, "alice@example.com", "member")
	var b browser
	b.login(t, s, "alice@example.com", goodPassword)
	s.f.clock.Add(account.DefaultIdleTimeout - time.Minute)
	if who := b.me(t, s); who != "alice@example.com" {
		t.Fatalf("within the idle timeout: %q", who)
	}
	s.f.clock.Add(2 * time.Minute)
	if who := b.me(t, s); who != "" {
		t.Fatalf("signed in as %q past the idle timeout", who)
	}

	// The janitor removes what has expired, and only that.
	var fresh browser
	fresh.login(t, s, "alice@example.com", goodPassword)
	j := account.NewJanitor(s.f.db, time.Hour, nil)
	if n := j.Sweep(t.Context()); n != 0 {
		t.Fatalf("swept %d sessions at the real time", n)
	}
	all, _ := s.f.db.AllSessions(t.Context(), time.Now().Add(account.DefaultLifetime+time.Hour))
	if len(all) != 0 {
		t.Fatalf("%d sessions outlive the lifetime", len(all))
	}
	// Both rows, the first session's (expired by the test's clock, not
	// yet by the real one) and the fresh one, have expired by then.
	n, err := s.f.db.DeleteExpiredSessions(t.Context(), time.Now().Add(account.DefaultIdleTimeout+time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want both sessions gone by then", n, err)
	}
}

func TestJanitorRun(t *testing.T) {
	f := newFixture(t, account.Options{})
	if err := f.db.CommitSession(t.Context(), "expired", 0, []byte{1, 0}, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- account.NewJanitor(f.db, time.Hour, nil).Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		all, err := f.db.AllSessions(t.Context(), time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(all) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the janitor did not sweep when it started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}

// TestUnreadableSession checks that a stored session this version cannot
// read counts as no session, rather than failing every request that
// presents its cookie.
func TestUnreadableSession(t *testing.T) {
	s := newSite(t, "https://sho.rt")
	token := "an-old-token"
	sum := sha256.Sum256([]byte(token))
	if err := s.f.db.CommitSession(t.Context(), base64.RawURLEncoding.EncodeToString(sum[:]), 0, []byte("\x09garbage"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	b := browser{cookie: &http.Cookie{Name: "__Host-shortlinks_session", Value: token}}
	if who := b.me(t, s); who != "" {
		t.Fatalf("signed in as %q", who)
	}
}
