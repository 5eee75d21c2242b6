package web_test

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// browserEnv is the real service on a loopback port, a destination site for
// its links, and a headless Chromium.
type browserEnv struct {
	base    string // origin of the service and of its short links
	dest    string // a URL on the destination site
	browser context.Context
}

// newBrowserEnv starts the service with the settings set changes.
func newBrowserEnv(t *testing.T, set ...func(*config.Config)) *browserEnv {
	t.Helper()
	chromium := servicetest.Chromium(t)

	// The destination is another host name for the loopback address, since
	// the service refuses links to its own host.
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>Landed</title><h1 id=\"landed\">%s</h1>", html.EscapeString(r.URL.RequestURI()))
	}))
	t.Cleanup(dest.Close)
	_, port, _ := net.SplitHostPort(dest.Listener.Addr().String())

	base := apptest.Start(t, slog.New(slog.NewTextHandler(t.Output(), nil)), app.Telemetry{}, set...).URL

	profile, err := os.MkdirTemp("", "shortlinks-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Chromium's helper processes can outlive the browser by a moment.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if err := os.RemoveAll(profile); err == nil || time.Now().After(deadline) {
				return
			}
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // root in containers and CI; the pages are our own
		chromedp.DisableGPU,
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1000, 1200),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	// Let the page's copy button write the clipboard, and the test read it.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(browserCtx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name},
			Setting:    browser.PermissionSettingGranted,
			Origin:     base,
		})
		if err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	return &browserEnv{base: base, dest: "http://localhost:" + port + "/landing?from=shortlinks", browser: browserCtx}
}

// tab opens a new tab and returns its context, with a deadline for the
// actions run on it.
func (e *browserEnv) tab(t *testing.T) context.Context {
	t.Helper()
	tabCtx, cancel := chromedp.NewContext(e.browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(tabCtx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// watchConsole collects script exceptions and Content Security Policy
// violations on the tab.
func watchConsole(ctx context.Context) func() []string {
	var mu sync.Mutex
	var problems []string
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// qrLoaded waits until the QR image has loaded and returns its width in
// pixels as the browser decoded it. It polls from here rather than with
// chromedp.Poll, whose timers do not run in a page with script disabled.
func qrLoaded(t *testing.T, ctx context.Context) int {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		w := run(t, ctx, "QR image", chromedp.Evaluate[int](
			`(() => { const i = document.getElementById("qr"); return i.complete ? i.naturalWidth : 0; })()`))
		if w > 0 || time.Now().After(deadline) {
			return w
		}
	}
}

// clearInput empties an input the way a person selecting its text and
// deleting it would. (chromedp.Clear only resets the value attribute, which
// an edited input no longer follows, and SetValue cannot set "".)
func clearInput(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`document.getElementById("` + id + `").value = ""`)
}

// checkFieldError checks the message beside an input and the input's state.
func checkFieldError(t *testing.T, ctx context.Context, input, want string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID(input+"-error"))); err != nil {
		summary, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("error-summary")))
		t.Fatalf("%s error does not show: %v; the summary says %q", input, err, summary)
	}
	if got := run(t, ctx, "error text", chromedp.Text(chromedp.ID(input+"-error"))); got != want {
		t.Errorf("%s error %q, want %q", input, got, want)
	}
	if got := run(t, ctx, "aria-invalid", chromedp.AttributeValue(chromedp.ID(input), "aria-invalid")); got.Value != "true" {
		t.Errorf("%s aria-invalid %q, want true", input, got.Value)
	}
	if got := run(t, ctx, "aria-describedby", chromedp.AttributeValue(chromedp.ID(input), "aria-describedby")); !strings.Contains(got.Value, input+"-error") {
		t.Errorf("%s aria-describedby %q does not name %s-error", input, got.Value, input)
	}
	if got := run(t, ctx, "summary", chromedp.Text(chromedp.ID("error-summary"))); !strings.Contains(got, want) {
		t.Errorf("error summary %q does not hold %q", got, want)
	}
}

func TestBrowser(t *testing.T) {
	e := newBrowserEnv(t)

	t.Run("with script", func(t *testing.T) {
		ctx := e.tab(t)
		problems := watchConsole(ctx)
		do(t, ctx, "open the page", chromedp.Navigate(e.base+"/"))
		// The script shows the copy button once it has run.
		run(t, ctx, "script runs", chromedp.Poll[bool](`!document.getElementById("copy").hidden`, chromedp.WithPollingTimeout(10*time.Second)))
		do(t, ctx, "mark the document", chromedp.Evaluate[chromedp.Void](`window.sameDocument = true`))

		do(t, ctx, "shorten",
			chromedp.SendKeys(chromedp.ID("url"), e.dest),
			chromedp.Click(chromedp.ID("submit")),
			chromedp.WaitVisible(chromedp.ID("result")),
		)
		if !run(t, ctx, "same document", chromedp.Evaluate[bool](`window.sameDocument === true`)) {
			t.Error("the page reloaded: the script did not handle the form")
		}
		short := run(t, ctx, "short link", chromedp.Text(chromedp.ID("short-url")))
		code, ok := strings.CutPrefix(short, e.base+"/")
		if !ok || code == "" {
			t.Fatalf("short link %q is not on %s", short, e.base)
		}
		if got := run(t, ctx, "href", chromedp.AttributeValue(chromedp.ID("short-url"), "href")); got.Value != short {
			t.Errorf("short link href %q, want %q", got.Value, short)
		}
		if got := run(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); got != "result" {
			t.Errorf("focus on %q, want the result", got)
		}
		if got := run(t, ctx, "QR src", chromedp.AttributeValue(chromedp.ID("qr"), "src")); got.Value != "/api/v1/links/"+code+"/qr?format=svg" {
			t.Errorf("QR src %q", got.Value)
		}
		if w := qrLoaded(t, ctx); w <= 0 {
			t.Errorf("QR image decoded %d pixels wide", w)
		}

		do(t, ctx, "copy", chromedp.Click(chromedp.ID("copy")))
		status := run(t, ctx, "copy status", chromedp.Poll[string](`document.getElementById("copy-status").textContent`,
			chromedp.WithPollingTimeout(10*time.Second)))
		if !strings.HasPrefix(status, "Copied") {
			t.Errorf("copy status %q", status)
		}
		if clip := run(t, ctx, "read clipboard", chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)); clip != short {
			t.Errorf("clipboard holds %q, want %q", clip, short)
		}

		// An error beside its field, without a reload.
		do(t, ctx, "reuse the form",
			chromedp.SendKeys(chromedp.ID("url"), "javascript:alert(1)"),
			chromedp.Click(chromedp.ID("submit")),
		)
		checkFieldError(t, ctx, "url", "Only http and https URLs can be shortened.")
		if got := run(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); got != "error-summary" {
			t.Errorf("focus on %q, want the error summary", got)
		}
		if run(t, ctx, "result hidden", chromedp.Evaluate[bool](`!document.getElementById("result").hidden`)) {
			t.Error("the old result stays on screen beside the error")
		}

		// Fixing the URL and taking the code that exists moves the error
		// to the alias.
		do(t, ctx, "taken alias",
			clearInput("url"),
			chromedp.SendKeys(chromedp.ID("url"), e.dest),
			chromedp.SendKeys(chromedp.ID("alias"), code),
			chromedp.Click(chromedp.ID("submit")),
		)
		checkFieldError(t, ctx, "alias", "That alias is already taken; choose another one.")
		if run(t, ctx, "url error cleared", chromedp.Evaluate[bool](`!document.getElementById("url-error").hidden || document.getElementById("url").hasAttribute("aria-invalid")`)) {
			t.Error("the URL is still marked invalid")
		}
		if !run(t, ctx, "same document", chromedp.Evaluate[bool](`window.sameDocument === true`)) {
			t.Error("the page reloaded")
		}

		// The short link leads to the destination.
		do(t, ctx, "follow", chromedp.Navigate(short))
		if got := run(t, ctx, "location", chromedp.Location()); got != e.dest {
			t.Errorf("landed on %q, want %q", got, e.dest)
		}
		if got := run(t, ctx, "landing", chromedp.Text(chromedp.ID("landed"))); got != "/landing?from=shortlinks" {
			t.Errorf("destination saw %q", got)
		}
		if p := problems(); len(p) > 0 {
			t.Errorf("console: %q", p)
		}
	})

	t.Run("without script", func(t *testing.T) {
		ctx := e.tab(t)
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("disable script: %v", err)
		}
		do(t, ctx, "open the page", chromedp.Navigate(e.base+"/"))
		if got := run(t, ctx, "copy button", chromedp.AttributeValue(chromedp.ID("copy"), "hidden")); !got.Exists {
			t.Fatal("the copy button shows: the page's script ran")
		}

		do(t, ctx, "fill in",
			chromedp.SendKeys(chromedp.ID("url"), e.dest),
			chromedp.SendKeys(chromedp.ID("alias"), "no-script"),
			chromedp.SetValue(chromedp.ID("expires"), "604800"),
		)
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("submit")))
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		if resp.Status != http.StatusCreated {
			t.Fatalf("submit: status %d, want 201", resp.Status)
		}
		short := run(t, ctx, "short link", chromedp.Text(chromedp.ID("short-url")))
		if short != e.base+"/no-script" {
			t.Fatalf("short link %q, want %s/no-script", short, e.base)
		}
		expires := run(t, ctx, "expiry", chromedp.AttributeValue(chromedp.CSS("#expires-at time"), "datetime"))
		if at, err := time.Parse(time.RFC3339, expires.Value); err != nil || time.Until(at) < 6*24*time.Hour || time.Until(at) > 8*24*time.Hour {
			t.Errorf("expiry %q, want about 7 days from now", expires.Value)
		}
		if w := qrLoaded(t, ctx); w <= 0 {
			t.Errorf("QR image decoded %d pixels wide", w)
		}

		// The same alias again: the page comes back with the error beside
		// the alias and what was typed kept.
		do(t, ctx, "open the page", chromedp.Navigate(e.base+"/"))
		do(t, ctx, "fill in",
			chromedp.SendKeys(chromedp.ID("url"), e.dest),
			chromedp.SendKeys(chromedp.ID("alias"), "no-script"),
		)
		resp, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("submit")))
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		if resp.Status != http.StatusConflict {
			t.Errorf("submit a taken alias: status %d, want 409", resp.Status)
		}
		checkFieldError(t, ctx, "alias", "That alias is already taken; choose another one.")
		if got := run(t, ctx, "URL kept", chromedp.Value(chromedp.ID("url"))); got != e.dest {
			t.Errorf("URL input %q, want %q", got, e.dest)
		}

		do(t, ctx, "javascript URL",
			clearInput("url"),
			clearInput("alias"),
			chromedp.SendKeys(chromedp.ID("url"), "javascript:alert(1)"),
		)
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("submit"))); err != nil {
			t.Fatalf("submit: %v", err)
		}
		checkFieldError(t, ctx, "url", "Only http and https URLs can be shortened.")
		if got := run(t, ctx, "title", chromedp.Title()); !strings.HasPrefix(got, "Error: ") {
			t.Errorf("title %q does not start with 'Error: '", got)
		}

		do(t, ctx, "follow", chromedp.Navigate(short))
		if got := run(t, ctx, "location", chromedp.Location()); got != e.dest {
			t.Errorf("landed on %q, want %q", got, e.dest)
		}
	})

	t.Run("error page", func(t *testing.T) {
		ctx := e.tab(t)
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(e.base+"/no-such-link"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusNotFound {
			t.Errorf("status %d, want 404", resp.Status)
		}
		if got := run(t, ctx, "heading", chromedp.Text(chromedp.CSS("h1"))); got != "Nothing here" {
			t.Errorf("heading %q", got)
		}
		// The style sheet applies: the card is centred and narrower than
		// the window.
		width := run(t, ctx, "card width", chromedp.Evaluate[float64](`document.querySelector("main.card").getBoundingClientRect().width`))
		if width <= 0 || width >= 1000 {
			t.Errorf("card is %v px wide; the style sheet did not apply", width)
		}
	})
}
