package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// TestStatsPageInBrowser signs in with an API key on a link's stats page in
// Chromium and reads the clicks that real redirects made. With
// SHORTLINKS_SCREENSHOT_DIR set it leaves stats.png there.
func TestStatsPageInBrowser(t *testing.T) {
	chromium := servicetest.Chromium(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	a := newApp(t, testConfig(t, func(c *config.Config) {
		c.Listen, c.BaseURL, c.AnalyticsFlushInterval = ln.Addr().String(), base, 100*time.Millisecond
	}))
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		stop()
		<-served
	})
	_, key, err := a.Keys().Create(t.Context(), "stats", false)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/links", strings.NewReader(`{"url":"https://example.com/launch"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var l httpapi.LinkJSON
	json.NewDecoder(rsp.Body).Decode(&l)
	rsp.Body.Close()

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	visit := func(ua, referer string, n int) {
		for range n {
			r, _ := http.NewRequest(http.MethodGet, base+"/"+l.Code, nil)
			r.Header.Set("User-Agent", ua)
			r.Header.Set("Accept-Language", "en-GB,en;q=0.9")
			if referer != "" {
				r.Header.Set("Referer", referer)
			}
			rsp, err := noFollow.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			rsp.Body.Close()
		}
	}
	const (
		chrome  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
		iphone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"
		firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
	)
	visit(chrome, "https://news.ycombinator.com/item?id=1", 9)
	visit(iphone, "https://t.co/abc", 5)
	visit(firefox, "", 3)
	visit("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "", 2)

	browserCtx := newChromium(t, chromium)
	tab, cancel := chromedp.NewContext(browserCtx)
	t.Cleanup(cancel)
	tctx, cancelTimeout := context.WithTimeout(tab, 60*time.Second)
	t.Cleanup(cancelTimeout)
	problems := watchConsole(tctx)

	page := base + "/links/" + l.Code + "/stats"
	do(t, tctx, "open the stats page", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.ID("key-form")))
	do(t, tctx, "a wrong key", chromedp.SendKeys(chromedp.ID("key"), "sl_notakey"), chromedp.Submit(chromedp.ID("key-form")),
		chromedp.WaitVisible(chromedp.ID("key-error")))
	do(t, tctx, "sign in", chromedp.SendKeys(chromedp.ID("key"), key), chromedp.Submit(chromedp.ID("key-form")),
		chromedp.WaitVisible(chromedp.ID("chart")))

	// The clicks are written within a flush or two; reload until they are.
	var clicks string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		clicks = run(t, tctx, "clicks", chromedp.Text(chromedp.ID("clicks")))
		if clicks == "17" || time.Now().After(deadline) {
			break
		}
		do(t, tctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("chart")))
	}
	if clicks != "17" {
		t.Fatalf("the page shows %s clicks by people, want 17", clicks)
	}
	if bots := run(t, tctx, "bots", chromedp.Text(chromedp.ID("bot-clicks"))); bots != "2" {
		t.Errorf("the page shows %s bot clicks, want 2", bots)
	}
	bars := run(t, tctx, "bars", chromedp.Evaluate[int](`document.querySelectorAll("#chart rect.bar").length`))
	if bars != 30 && bars != 31 {
		t.Errorf("%d bars for 30 days", bars)
	}
	tables := run(t, tctx, "tables", chromedp.Text(chromedp.CSS(".tables")))
	for _, want := range []string{"news.ycombinator.com", "t.co", "Direct or unknown", "Chrome", "Safari", "Firefox", "mobile", "desktop"} {
		if !strings.Contains(tables, want) {
			t.Errorf("the breakdowns do not show %q: %s", want, tables)
		}
	}
	do(t, tctx, "hourly", chromedp.Click(chromedp.CSS(`a[href="?period=24h"]`)), chromedp.WaitVisible(chromedp.ID("chart")))
	if bars := run(t, tctx, "hourly bars", chromedp.Evaluate[int](`document.querySelectorAll("#chart rect.bar").length`)); bars != 24 && bars != 25 {
		t.Errorf("%d bars for 24 hours", bars)
	}
	do(t, tctx, "30 days again", chromedp.Click(chromedp.CSS(`a[href="?period=30d"]`)), chromedp.WaitVisible(chromedp.ID("chart")))
	if p := problems(); len(p) > 0 {
		t.Errorf("console: %v", p)
	}
	if dir := os.Getenv("SHORTLINKS_SCREENSHOT_DIR"); dir != "" {
		png := run(t, tctx, "screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(dir, "stats.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Another key sees no such link; no key gets the form.
	_, otherKey, err := a.Keys().Create(t.Context(), "other", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cookie string
		status int
		holds  string
	}{{otherKey, http.StatusNotFound, "No link you may see"}, {"", http.StatusUnauthorized, "key-form"}} {
		r, _ := http.NewRequest(http.MethodGet, page, nil)
		if tt.cookie != "" {
			r.AddCookie(&http.Cookie{Name: "shortlinks_stats_key", Value: tt.cookie})
		}
		rsp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(rsp.Body)
		rsp.Body.Close()
		if rsp.StatusCode != tt.status || !strings.Contains(string(body), tt.holds) {
			t.Errorf("cookie %q: %d, want %d with %q", tt.cookie, rsp.StatusCode, tt.status, tt.holds)
		}
	}
}

func newChromium(t *testing.T, chromium string) context.Context {
	t.Helper()
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1200, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	return browserCtx
}
