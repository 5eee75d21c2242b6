package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/shortlinks/shortlinks/internal/app/apptest"
)

// TestBrowserPasswordLink follows a password-protected link in Chromium:
// the page asks for the password, a wrong one shows the form again with
// the problem beside the input, and the right one lands on the
// destination with the short link's query string forwarded. The page
// breaks no Content Security Policy rule.
func TestBrowserPasswordLink(t *testing.T) {
	e := newBrowserEnv(t)
	code := apptest.Create(t, e.base, `{"url":"`+e.dest+`","password":"open sesame","forward_query":true}`)
	ctx := e.person(t)
	problems := watchConsole(ctx)

	if status := open(t, ctx, e.base+"/"+code+"?utm_source=mail"); status != http.StatusOK {
		t.Fatalf("the short link answered %d, want the password page (200)", status)
	}
	if got := run(t, ctx, "label", chromedp.Text(`label[for="password"]`)); got != "Password" {
		t.Errorf("the input's label says %q", got)
	}
	if got := run(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); got != "password" {
		t.Errorf("focus on %q, want the password input", got)
	}

	do(t, ctx, "type a wrong password", chromedp.SendKeys(chromedp.ID("password"), "wrong"))
	if status := submit(t, ctx, "submit"); status != http.StatusUnauthorized {
		t.Errorf("a wrong password answered %d, want 401", status)
	}
	msg := run(t, ctx, "field error", chromedp.Text(chromedp.ID("password-error")))
	if !strings.Contains(msg, "not the link's password") {
		t.Errorf("the field error says %q", msg)
	}
	if got := run(t, ctx, "aria-invalid", chromedp.AttributeValue(chromedp.ID("password"), "aria-invalid")); got.Value != "true" {
		t.Errorf("the input is not marked invalid: %q", got.Value)
	}
	screenshot(t, ctx, "password.png")

	do(t, ctx, "type the password", chromedp.SendKeys(chromedp.ID("password"), "open sesame"))
	if status := submit(t, ctx, "submit"); status != http.StatusOK {
		t.Errorf("the right password led to a page answering %d", status)
	}
	landed := run(t, ctx, "landed", chromedp.Text(chromedp.ID("landed")))
	if landed != "/landing?from=shortlinks&utm_source=mail" {
		t.Errorf("landed on %q, want the destination with the query forwarded", landed)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("console problems: %v", p)
	}
}
