package shlink_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// TestContractVisits follows real redirects through click analytics to the
// visit routes: a short URL's visits listed one by one (bots flagged, and
// left out with excludeBots), its visits summary in the list and the get,
// and the global summary of a key's links and, for an admin, of orphan
// visits; every answer held to Shlink's document.
func TestContractVisits(t *testing.T) {
	srv := startServer(t, func(c *config.Config) { c.AnalyticsFlushInterval = 20 * time.Millisecond })
	ct := newContract(t, srv)
	key := srv.key(t, "shlink", false)
	admin := srv.key(t, "admin", true)
	ct.do(t, call{method: "POST", path: "/rest/v3/short-urls", key: key, body: `{"longUrl":"https://example.com/seen","customSlug":"seen"}`}, 200)

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	visit := func(path, ua string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.url+path, nil)
		req.Header.Set("User-Agent", ua)
		req.Header.Set("Accept-Language", "en")
		req.Header.Set("Referer", "https://news.example.org/story")
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
	for range 3 {
		visit("/seen", firefox)
	}
	visit("/seen", "Googlebot/2.1 (+http://www.google.com/bot.html)")
	visit("/no-such-link", firefox)

	servicetest.Eventually(t, 10*time.Second, "four visits listed", func() error {
		v := ct.do(t, call{method: "GET", path: "/rest/v3/short-urls/seen/visits", key: key}, 200).json(t)
		if n := v["visits"].(map[string]any)["pagination"].(map[string]any)["totalItems"]; n != 4.0 {
			return fmt.Errorf("%v visits listed", n)
		}
		return nil
	})
	v := ct.do(t, call{method: "GET", path: "/rest/v3/short-urls/seen/visits?excludeBots=true&page=1&itemsPerPage=2", key: key}, 200).json(t)
	page := v["visits"].(map[string]any)
	if p := page["pagination"].(map[string]any); p["totalItems"] != 3.0 || p["pagesCount"] != 2.0 || p["itemsInCurrentPage"] != 2.0 {
		t.Errorf("people's visits, two a page: %v", p)
	}
	first := page["data"].([]any)[0].(map[string]any)
	if first["userAgent"] != firefox || first["potentialBot"] != false || first["referer"] != "news.example.org" {
		t.Errorf("a visit: %v", first)
	}
	v = ct.do(t, call{method: "GET", path: "/rest/v3/short-urls/seen/visits?startDate=2999-01-01T00:00:00%2B00:00", key: key}, 200).json(t)
	if n := v["visits"].(map[string]any)["pagination"].(map[string]any)["totalItems"]; n != 0.0 {
		t.Errorf("visits after 2999: %v", n)
	}

	want := map[string]any{"total": 4, "nonBots": 3, "bots": 1}
	u := ct.do(t, call{method: "GET", path: "/rest/v3/short-urls/seen", key: key}, 200).json(t)
	if !equalJSON(u["visitsSummary"], want) {
		t.Errorf("get: visitsSummary %v, want %v", u["visitsSummary"], want)
	}
	l := ct.do(t, call{method: "GET", path: "/rest/v3/short-urls", key: key}, 200).json(t)
	if data := l["shortUrls"].(map[string]any)["data"].([]any); len(data) != 1 || !equalJSON(data[0].(map[string]any)["visitsSummary"], want) {
		t.Errorf("list: %v", data)
	}
	s := ct.do(t, call{method: "GET", path: "/rest/v3/visits", key: key}, 200).json(t)["visits"].(map[string]any)
	if !equalJSON(s["nonOrphanVisits"], want) || !equalJSON(s["orphanVisits"], map[string]any{"total": 0, "nonBots": 0, "bots": 0}) {
		t.Errorf("the key's summary: %v", s)
	}
	servicetest.Eventually(t, 10*time.Second, "the orphan visit counted", func() error {
		s := ct.do(t, call{method: "GET", path: "/rest/v3/visits", key: admin}, 200).json(t)["visits"].(map[string]any)
		if !equalJSON(s["nonOrphanVisits"], want) || s["orphanVisits"].(map[string]any)["total"] != 1.0 {
			return fmt.Errorf("the admin's summary: %v", s)
		}
		return nil
	})
}
