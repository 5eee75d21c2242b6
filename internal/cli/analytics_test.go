package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/httpapi"
)

func TestPrintStats(t *testing.T) {
	day := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := httpapi.StatsJSON{Code: "launch", Report: analytics.Report{
		From: day, To: day.Add(72 * time.Hour), Interval: analytics.Day, Clicks: 30, BotClicks: 4,
		Series:    []analytics.Point{{Start: day, Clicks: 20}, {Start: day.Add(24 * time.Hour), Clicks: 10}, {Start: day.Add(48 * time.Hour)}},
		Referrers: []analytics.Row{{Value: "news.example.org", Clicks: 25}, {Value: "", Clicks: 5}},
	}}
	var out bytes.Buffer
	if err := printStats(&out, s); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"launch: 30 clicks by people, 4 by bots",
		"2030-01-01 " + strings.Repeat("█", barWidth) + " 20",
		"2030-01-02 " + strings.Repeat("█", barWidth/2) + strings.Repeat(" ", barWidth/2) + " 10",
		"2030-01-03 " + strings.Repeat(" ", barWidth) + " 0",
		"news.example.org  25", "(direct)", "Countries", "(none)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}
