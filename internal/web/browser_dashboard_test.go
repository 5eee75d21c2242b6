package web_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/shortlinks/shortlinks/internal/config"
)

// person opens a tab in a browser profile of its own, so that each person
// in a test has their own cookies.
func (e *browserEnv) person(t *testing.T) context.Context {
	t.Helper()
	tabCtx, cancel := chromedp.NewContext(e.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	// The size the README's screenshots show.
	if _, err := chromedp.Call(tabCtx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: 1200, Height: 800, DeviceScaleFactor: 1,
	}); err != nil {
		t.Fatalf("window size: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(tabCtx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

// screenshot saves the whole page as name in the directory that
// SHORTLINKS_SCREENSHOTS names (make screenshots: docs/images), if any.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SHORTLINKS_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := run(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// submit clicks the button with id and returns the status of the page it
// leads to, after any redirect.
func submit(t *testing.T, ctx context.Context, id string) int {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("click %s: %v", id, err)
	}
	return int(resp.Status)
}

func open(t *testing.T, ctx context.Context, url string) int {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return int(resp.Status)
}

func wantLocation(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	if got := run(t, ctx, "location", chromedp.Location()); got != want {
		t.Fatalf("at %s, want %s", got, want)
	}
}

func wantText(t *testing.T, ctx context.Context, id, want string) {
	t.Helper()
	if got := run(t, ctx, id, chromedp.Text(chromedp.ID(id))); !strings.Contains(got, want) {
		t.Errorf("#%s says %q, want %q in it", id, got, want)
	}
}

// signInAs signs in through the form, starting from the page next, and
// checks that it lands there.
func signInAs(t *testing.T, e *browserEnv, ctx context.Context, email, password, next string) {
	t.Helper()
	open(t, ctx, e.base+next)
	if got := run(t, ctx, "location", chromedp.Location()); !strings.HasPrefix(got, e.base+"/login?next=") {
		t.Fatalf("%s before signing in: at %s, want the sign-in form", next, got)
	}
	do(t, ctx, "fill in", chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), password))
	if st := submit(t, ctx, "submit"); st != http.StatusOK {
		t.Fatalf("sign in as %s: status %d", email, st)
	}
	wantLocation(t, ctx, e.base+next)
	wantText(t, ctx, "flash", "Signed in as "+email)
}

func TestBrowserDashboard(t *testing.T) {
	e := newBrowserEnv(t, withAdmin, noCreateLimit)
	admin := e.person(t)
	problems := watchConsole(admin)

	// The sign-in form: a wrong password, then the right one.
	open(t, admin, e.base+"/links")
	wantLocation(t, admin, e.base+"/login?next=%2Flinks")
	screenshot(t, admin, "login.png")
	do(t, admin, "fill in", chromedp.SendKeys(chromedp.ID("email"), adminEmail), chromedp.SendKeys(chromedp.ID("password"), "not the password"))
	if st := submit(t, admin, "submit"); st != http.StatusUnauthorized {
		t.Errorf("a wrong password: status %d, want 401", st)
	}
	wantText(t, admin, "error-summary", "The email address or the password is not right.")
	if got := run(t, admin, "email kept", chromedp.Value(chromedp.ID("email"))); got != adminEmail {
		t.Errorf("email input %q after a failed sign-in", got)
	}
	do(t, admin, "password", chromedp.SendKeys(chromedp.ID("password"), adminPassword))
	if st := submit(t, admin, "submit"); st != http.StatusOK {
		t.Fatalf("sign in: status %d", st)
	}
	wantLocation(t, admin, e.base+"/links")
	wantText(t, admin, "flash", "Signed in as admin@example.com")

	// The admin adds two members; a bad password is shown beside its input.
	open(t, admin, e.base+"/users")
	do(t, admin, "a short password", chromedp.SendKeys(chromedp.ID("email"), "ann@example.com"), chromedp.SendKeys(chromedp.ID("password"), "short"))
	if st := submit(t, admin, "create-user-submit"); st != http.StatusBadRequest {
		t.Errorf("a short password: status %d, want 400", st)
	}
	wantText(t, admin, "password-error", "at least 12")
	for _, email := range []string{"ann@example.com", "bo@example.com"} {
		open(t, admin, e.base+"/users")
		do(t, admin, "add "+email, chromedp.SendKeys(chromedp.ID("email"), email), chromedp.SendKeys(chromedp.ID("password"), email+" password"))
		submit(t, admin, "create-user-submit")
		wantLocation(t, admin, e.base+"/users")
		wantText(t, admin, "flash", "Added member "+email)
	}
	screenshot(t, admin, "users.png")

	// The admin makes links; errors come back beside their input.
	open(t, admin, e.base+"/links/new")
	do(t, admin, "fill in", chromedp.SendKeys(chromedp.ID("url"), e.dest), chromedp.SendKeys(chromedp.ID("alias"), "launch"),
		chromedp.SetValue(chromedp.ID("expires"), "604800"))
	submit(t, admin, "submit")
	wantLocation(t, admin, e.base+"/links/launch")
	wantText(t, admin, "flash", "Created "+e.base+"/launch")
	wantText(t, admin, "long-url", e.dest)
	if w := qrLoaded(t, admin); w <= 0 {
		t.Errorf("QR image decoded %d pixels wide", w)
	}
	open(t, admin, e.base+"/links/new")
	do(t, admin, "a taken alias", chromedp.SendKeys(chromedp.ID("url"), e.dest), chromedp.SendKeys(chromedp.ID("alias"), "launch"))
	if st := submit(t, admin, "submit"); st != http.StatusConflict {
		t.Errorf("a taken alias: status %d, want 409", st)
	}
	checkFieldError(t, admin, "alias", "That alias is already taken; choose another one.")
	for _, dest := range []string{"https://example.com/docs/getting-started", "https://example.org/blog/2026/launch?utm_source=newsletter", "https://example.net/careers"} {
		open(t, admin, e.base+"/links/new")
		do(t, admin, "fill in", chromedp.SendKeys(chromedp.ID("url"), dest))
		submit(t, admin, "submit")
	}
	code := strings.TrimPrefix(run(t, admin, "location", chromedp.Location()), e.base+"/links/")
	if w := qrLoaded(t, admin); w <= 0 {
		t.Errorf("QR image decoded %d pixels wide", w)
	}
	open(t, admin, e.base+"/links")
	wantText(t, admin, "links", "launch")
	wantText(t, admin, "links", code)

	// Deleting asks first; keeping it changes nothing.
	open(t, admin, e.base+"/links/"+code)
	submit(t, admin, "delete")
	wantLocation(t, admin, e.base+"/links/"+code+"/delete")
	submit(t, admin, "cancel")
	wantLocation(t, admin, e.base+"/links/"+code)
	submit(t, admin, "delete")
	submit(t, admin, "confirm-delete")
	wantLocation(t, admin, e.base+"/links")
	wantText(t, admin, "flash", "Deleted "+e.base+"/"+code)
	if st := open(t, admin, e.base+"/"+code); st != http.StatusNotFound {
		t.Errorf("the deleted short link: status %d, want 404", st)
	}

	// Bo, a member, neither sees nor reaches the admin's links, nor the
	// users page.
	bo := e.person(t)
	signInAs(t, e, bo, "bo@example.com", "bo@example.com password", "/links")
	if got := run(t, bo, "list", chromedp.Text(chromedp.ID("main"))); strings.Contains(got, "launch") {
		t.Error("Bo's list shows the admin's link")
	}
	if st := open(t, bo, e.base+"/links/launch"); st != http.StatusNotFound {
		t.Errorf("the admin's link page, for Bo: status %d, want 404", st)
	}
	if st := open(t, bo, e.base+"/users"); st != http.StatusForbidden {
		t.Errorf("the users page, for a member: status %d, want 403", st)
	}
	if run(t, bo, "users in the menu", chromedp.Evaluate[bool](`!!document.querySelector('nav a[href="/users"]')`)) {
		t.Error("a member is offered the users page")
	}

	ann := e.person(t)
	signInAs(t, e, ann, "ann@example.com", "ann@example.com password", "/links/new")
	if linksHaveUsers() {
		// Ann's own link is on her list and not on Bo's.
		do(t, ann, "fill in", chromedp.SendKeys(chromedp.ID("url"), e.dest), chromedp.SendKeys(chromedp.ID("alias"), "anns-link"))
		submit(t, ann, "submit")
		wantLocation(t, ann, e.base+"/links/anns-link")
		open(t, ann, e.base+"/links")
		wantText(t, ann, "links", "anns-link")
		if st := open(t, bo, e.base+"/links/anns-link"); st != http.StatusNotFound {
			t.Errorf("Ann's link page, for Bo: status %d, want 404", st)
		}
	}

	// Ann makes an API key, sees its secret once, and revokes it.
	open(t, ann, e.base+"/keys")
	do(t, ann, "name", chromedp.SendKeys(chromedp.ID("name"), "deploy script"))
	if st := submit(t, ann, "create-key-submit"); st != http.StatusCreated {
		t.Fatalf("make a key: status %d", st)
	}
	secret := run(t, ann, "secret", chromedp.Text(chromedp.ID("secret")))
	if !strings.HasPrefix(secret, "sl_") {
		t.Fatalf("secret %q", secret)
	}
	screenshot(t, ann, "keys.png")
	open(t, ann, e.base+"/keys")
	if got := run(t, ann, "page", chromedp.Text(chromedp.ID("main"))); strings.Contains(got, secret) {
		t.Error("the secret shows again")
	}
	do(t, ann, "revoke", chromedp.Click(chromedp.CSS(`#keys button[id^="revoke-"]`)), chromedp.WaitVisible(chromedp.ID("flash")))
	wantText(t, ann, "flash", "Revoked key")
	wantText(t, ann, "keys", "revoked")

	// Signing out ends the session.
	open(t, bo, e.base+"/links")
	submit(t, bo, "sign-out")
	wantLocation(t, bo, e.base+"/login?signed_out=here")
	open(t, bo, e.base+"/keys")
	wantLocation(t, bo, e.base+"/login?next=%2Fkeys")

	if p := problems(); len(p) > 0 {
		t.Errorf("console: %q", p)
	}
}

// TestBrowserExpiredSession checks that a session unused for longer than
// the idle timeout sends the browser back to the sign-in form, and then
// on to the page it asked for.
func TestBrowserExpiredSession(t *testing.T) {
	e := newBrowserEnv(t, withAdmin, func(c *config.Config) { c.SessionIdleTimeout, c.SessionLifetime = 2*time.Second, time.Hour })
	ctx := e.person(t)
	signInAs(t, e, ctx, adminEmail, adminPassword, "/keys")
	time.Sleep(2500 * time.Millisecond)
	open(t, ctx, e.base+"/keys")
	wantLocation(t, ctx, e.base+"/login?next=%2Fkeys")
	do(t, ctx, "fill in", chromedp.SendKeys(chromedp.ID("email"), adminEmail), chromedp.SendKeys(chromedp.ID("password"), adminPassword))
	submit(t, ctx, "submit")
	wantLocation(t, ctx, e.base+"/keys")

	// An edit saved after the session has expired is not applied: the
	// browser goes to sign in instead.
	open(t, ctx, e.base+"/links/new")
	do(t, ctx, "fill in", chromedp.SendKeys(chromedp.ID("url"), e.dest), chromedp.SendKeys(chromedp.ID("alias"), "kept"))
	submit(t, ctx, "submit")
	wantLocation(t, ctx, e.base+"/links/kept")
	do(t, ctx, "title", chromedp.SendKeys(chromedp.ID("title"), "too late"))
	time.Sleep(2500 * time.Millisecond)
	submit(t, ctx, "save")
	if got := run(t, ctx, "location", chromedp.Location()); !strings.HasPrefix(got, e.base+"/login") {
		t.Fatalf("saving after the session expired: at %s, want the sign-in form", got)
	}
	do(t, ctx, "fill in", chromedp.SendKeys(chromedp.ID("email"), adminEmail), chromedp.SendKeys(chromedp.ID("password"), adminPassword))
	submit(t, ctx, "submit")
	open(t, ctx, e.base+"/links/kept")
	if got := run(t, ctx, "title", chromedp.Value(chromedp.ID("title"))); got != "" {
		t.Errorf("the expired session's edit was applied: title %q", got)
	}
}
