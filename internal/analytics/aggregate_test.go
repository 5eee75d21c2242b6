package analytics

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/yield"
)

const (
	chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	iphoneUA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"
	slackUA  = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
)

var t0 = time.Date(2026, 12, 1, 10, 15, 0, 0, time.UTC)

func addr16(s string) [16]byte { return netip.MustParseAddr(s).As16() }

func testBatch() *Batch {
	at := func(d time.Duration) int64 { return t0.Add(d).UnixNano() }
	return &Batch{
		ID:      BatchID{1, 1},
		Strings: []string{"", chromeUA, iphoneUA, slackUA, "https://news.example.com/x", "en-US,en", "de", "not a url"},
		Events: []Event{
			// Two people on link 1 in the 10:00 hour, from Germany and France.
			{At: at(0), LinkID: 1, Addr: addr16("81.2.69.142"), UA: 1, Referer: 4, Language: 5},
			{At: at(time.Minute), LinkID: 1, Addr: addr16("2a02:2e0:3fe:1001::1"), UA: 2, Language: 6},
			// Slack's preview of link 1: a bot.
			{At: at(2 * time.Minute), LinkID: 1, Addr: addr16("216.160.83.57"), UA: 3},
			// A Chrome User-Agent with no Accept-Language: a bot too.
			{At: at(3 * time.Minute), LinkID: 1, Addr: addr16("216.160.83.58"), UA: 1, Referer: 7},
			// Link 2 in the 11:00 hour, visitor asked not to be tracked.
			{At: at(time.Hour), LinkID: 2, Addr: addr16("81.2.69.1"), UA: 1, Language: 5, Flags: FlagNoTrack},
			// Orphans.
			{At: at(0), Kind: OrphanUnknown},
			{At: at(time.Second), Kind: OrphanUnknown},
			{At: at(time.Second), Kind: OrphanExpired, LinkID: 9, Domain: 2},
		},
	}
}

func TestAggregate(t *testing.T) {
	g, err := OpenGeoIP(writeGeoDB(t, t.TempDir(), "GeoLite2-Country"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	a := NewAggregator(AggregatorOptions{GeoIP: g, HonourDNT: true, Visits: true})
	a.Add(testBatch())
	d := a.Delta()

	h10, h11 := t0.Truncate(time.Hour).Unix(), t0.Truncate(time.Hour).Add(time.Hour).Unix()
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Unix()
	if want := []HourlyCount{{1, h10, 2, 2}, {2, h11, 1, 0}}; !reflect.DeepEqual(d.Hourly, want) {
		t.Errorf("Hourly = %+v, want %+v", d.Hourly, want)
	}
	if want := []TotalCount{{1, 2, 2, t0.Add(3 * time.Minute).UnixNano()}, {2, 1, 0, t0.Add(time.Hour).UnixNano()}}; !reflect.DeepEqual(d.Totals, want) {
		t.Errorf("Totals = %+v, want %+v", d.Totals, want)
	}
	if want := []OrphanCount{{0, OrphanUnknown, h10, 2}, {2, OrphanExpired, h10, 1}}; !reflect.DeepEqual(d.Orphans, want) {
		t.Errorf("Orphans = %+v, want %+v", d.Orphans, want)
	}
	// Link 2's visitor sent DNT: counted above, but in no breakdown. No
	// row has an empty value: readers count those clicks from the hourly
	// rollup (WithUnknown).
	want := []DailyCount{
		{1, day, DimReferrer, InvalidReferer, 0, 1},
		{1, day, DimReferrer, "news.example.com", 1, 0},
		{1, day, DimCountry, "DE", 1, 0},
		{1, day, DimCountry, "FR", 1, 0},
		{1, day, DimCountry, "US", 0, 2},
		{1, day, DimBrowser, "Chrome", 1, 1},
		{1, day, DimBrowser, "Safari", 1, 0},
		{1, day, DimBrowser, "Slack", 0, 1},
		{1, day, DimOS, "Windows", 1, 1},
		{1, day, DimOS, "iOS", 1, 0},
		{1, day, DimDevice, DeviceBot, 0, 2},
		{1, day, DimDevice, DeviceDesktop, 1, 0},
		{1, day, DimDevice, DeviceMobile, 1, 0},
	}
	if !reflect.DeepEqual(d.Daily, want) {
		t.Errorf("Daily:\n got %+v\nwant %+v", d.Daily, want)
	}
	if len(d.Visits) != 4 {
		t.Fatalf("%d visits, want 4 (none for the DNT visitor or orphans)", len(d.Visits))
	}
	v := d.Visits[0]
	if v.At != t0.UnixNano() || v.LinkID != 1 || v.Referrer != "news.example.com" || v.Country != "DE" ||
		v.Language != "en-us" || v.Addr != netip.MustParseAddr("81.2.69.0") || v.Bot || v.UA != HashUserAgent(chromeUA) {
		t.Errorf("first visit = %+v", v)
	}
	if v := d.Visits[1]; v.Addr != netip.MustParseAddr("2a02:2e0:3fe::") {
		t.Errorf("IPv6 visitor stored as %s, want its /48", v.Addr)
	}
	if len(d.Agents) != 3 {
		t.Errorf("%d user agents, want 3", len(d.Agents))
	}
	if d.Clicks != 3 || d.BotClicks != 2 || d.OrphanVisits != 3 {
		t.Errorf("Clicks, BotClicks, OrphanVisits = %d, %d, %d; want 3, 2, 3", d.Clicks, d.BotClicks, d.OrphanVisits)
	}
	if !reflect.DeepEqual(d.Batches, []BatchID{{1, 1}}) {
		t.Errorf("Batches = %v", d.Batches)
	}

	// Without DNT honoured, the same visitor appears in the breakdowns.
	a = NewAggregator(AggregatorOptions{GeoIP: g, Visits: false})
	a.Add(testBatch())
	d = a.Delta()
	n := 0
	for _, c := range d.Daily {
		if c.LinkID == 2 {
			n++
		}
	}
	// Five dimensions, less the referrer it did not send.
	if n != 4 || len(d.Visits) != 0 {
		t.Errorf("DNT not honoured: %d breakdown rows for link 2 (want 4), %d visits (want 0 with Visits off)", n, len(d.Visits))
	}
}

func TestAggregateCapsDimensionValues(t *testing.T) {
	a := NewAggregator(AggregatorOptions{})
	b := &Batch{ID: BatchID{1, 2}, Strings: []string{"", chromeUA, "en"}}
	// On two days, each with its own cap; the first day's values come
	// first, then the second's, then more of the first's.
	days := []time.Time{t0, t0.Add(24 * time.Hour), t0}
	for d, at := range days {
		for i := range (MaxDimValues + 50) * 2 / 3 {
			b.Strings = append(b.Strings, fmt.Sprintf("https://spam%d-%d.example/", d%2, i+d/2*(MaxDimValues+50)*2/3))
			b.Events = append(b.Events, Event{At: at.UnixNano(), LinkID: 1, UA: 1, Language: 2, Referer: uint32(len(b.Strings) - 1)})
		}
	}
	a.Add(b)
	values, other := map[int64]int64{}, map[int64]int64{}
	for _, c := range a.Delta().Daily {
		if c.Dim == DimReferrer {
			values[c.Day]++
			if c.Value == OtherValue {
				other[c.Day] = c.Humans
			}
		}
	}
	for _, day := range []int64{t0.Truncate(24 * time.Hour).Unix(), t0.Truncate(24 * time.Hour).Add(24 * time.Hour).Unix()} {
		clicks := int64(len(b.Events)) - int64(MaxDimValues+50)*2/3
		if day != t0.Truncate(24*time.Hour).Unix() {
			clicks = int64(MaxDimValues+50) * 2 / 3
		}
		if values[day] != min(clicks, MaxDimValues+1) || other[day] != max(clicks-MaxDimValues, 0) {
			t.Errorf("day %d: %d referrer rows, %d clicks in %q; want %d and %d", day, values[day], other[day], OtherValue,
				min(clicks, MaxDimValues+1), max(clicks-MaxDimValues, 0))
		}
	}
}

// TestDeltaOrder checks the order of a Delta's counts and visits on
// clicks spread over links, hours, days and browsers: the hourly and daily
// counts sorted by their keys, one row a key, adding up to the clicks; the
// visits by link, each link's in the order added, none lost or repeated.
// Over two batches, across a Reset, and with Delta asked twice.
func TestDeltaOrder(t *testing.T) {
	a := NewAggregator(AggregatorOptions{Visits: true})
	rng := rand.New(rand.NewPCG(1, 2))
	uas := []string{chromeUA, iphoneUA, slackUA}
	for round, n := range []int{1, 5, 3*yield.Batch + 17, 20_000} {
		a.Reset()
		var want []Visit // in the order added
		for b := range 2 {
			batch := &Batch{ID: BatchID{1, uint64(2*round + b)}, Strings: append([]string{"", "en"}, uas...)}
			for i := range n {
				// Times that grow through the batches, so that each
				// visit is known by its time, over two days and more.
				at := t0.Add(time.Duration(b*n+i) * 3 * time.Hour / time.Duration(n)).Add(time.Duration(rng.IntN(60)) * time.Hour).UnixNano()
				batch.Events = append(batch.Events, Event{At: at, LinkID: rng.Int64N(int64(n/3+1)) + 1,
					UA: uint32(2 + rng.IntN(len(uas))), Language: 1})
			}
			a.Add(batch)
			for _, e := range batch.Events {
				want = append(want, Visit{At: e.At, LinkID: e.LinkID})
			}
		}
		slices.SortStableFunc(want, func(x, y Visit) int { return cmp.Compare(x.LinkID, y.LinkID) })
		for range 2 {
			d := a.Delta()
			if len(d.Visits) != len(want) {
				t.Fatalf("n=%d: %d visits, want %d", n, len(d.Visits), len(want))
			}
			for i, v := range d.Visits {
				if v.At != want[i].At || v.LinkID != want[i].LinkID {
					t.Fatalf("n=%d: visit %d is link %d's at %d, want link %d's at %d", n, i, v.LinkID, v.At, want[i].LinkID, want[i].At)
				}
			}
			var hourly, browsers int64
			for i, h := range d.Hourly {
				hourly += h.Humans + h.Bots
				if i > 0 && cmp.Or(cmp.Compare(d.Hourly[i-1].LinkID, h.LinkID), cmp.Compare(d.Hourly[i-1].Hour, h.Hour)) >= 0 {
					t.Fatalf("n=%d: hourly count %d %+v after %+v", n, i, h, d.Hourly[i-1])
				}
			}
			for i, c := range d.Daily {
				if c.Dim == DimBrowser {
					browsers += c.Humans + c.Bots
				}
				if i == 0 {
					continue
				}
				p := d.Daily[i-1]
				if cmp.Or(cmp.Compare(p.LinkID, c.LinkID), cmp.Compare(p.Day, c.Day), cmp.Compare(p.Dim, c.Dim), strings.Compare(p.Value, c.Value)) >= 0 {
					t.Fatalf("n=%d: daily count %d %+v after %+v", n, i, c, p)
				}
			}
			if hourly != int64(2*n) || browsers != int64(2*n) {
				t.Fatalf("n=%d: %d clicks in the hourly counts and %d in the browsers', want %d", n, hourly, browsers, 2*n)
			}
		}
	}
}
