package transfer

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

const (
	bitlyMarketing     = "/v4/groups/Ba1bc23dE4F/bitlinks"
	bitlySupport       = "/v4/groups/Bz9yx87wV6U/bitlinks"
	bitlyCount         = "?archived=both&size=1"
	bitlyFirst         = "?archived=both&size=2"
	bitlyMarketingNext = bitlyMarketing + "?archived=both&search_after=MTY5ODk0NzEzMDAwMA&size=2"
	bitlyClicks        = "/clicks/summary?unit=month&units=-1"
)

func bitlyPeer(t *testing.T) *fakePeer {
	p := newFakePeer(t, "Authorization", "Bearer bitly-token")
	p.on("/v4/groups", reply{file: "bitly/groups.json"})
	p.on(bitlyMarketing+bitlyCount, reply{file: "bitly/marketing-count.json"})
	p.on(bitlySupport+bitlyCount, reply{file: "bitly/support-page-1.json"})
	p.on(bitlyMarketing+bitlyFirst, reply{file: "bitly/marketing-page-1.json"})
	p.on(bitlyMarketingNext, reply{file: "bitly/marketing-page-2.json"})
	p.on(bitlySupport+bitlyFirst, reply{file: "bitly/support-page-1.json"})
	p.on("/v4/bitlinks/bit.ly/3xYzAbC"+bitlyClicks, reply{file: "bitly/clicks-3xYzAbC.json"})
	p.on("/v4/bitlinks/brand.co/pricing"+bitlyClicks, reply{file: "bitly/clicks-pricing.json"})
	p.on("/v4/bitlinks/bit.ly/help"+bitlyClicks, reply{file: "bitly/clicks-help.json"})
	return p
}

func openBitly(p *fakePeer, o BitlyOptions) (Source, error) {
	o.URL, o.PageSize, o.HTTP = p.url, 2, fastRetries
	if o.Token == "" {
		o.Token = "bitly-token"
	}
	return OpenBitly(context.Background(), o)
}

func bitlyWant(clicks bool) []Record {
	launch, pricing, help := int64(0), int64(0), int64(0)
	if clicks {
		launch, help = 1204, 88
	}
	return []Record{
		{Ref: "bit.ly/3xYzAbC", Code: "3xYzAbC", Domain: "bit.ly", URL: "https://example.com/launch?utm_source=bitly",
			Title: "Launch page", Tags: []string{"launch", "2024"}, CreatedAt: at("2024-02-10T09:00:00Z"), Clicks: launch},
		{Ref: "brand.co/launch (custom back-half of bit.ly/3xYzAbC)", Code: "launch", Domain: "brand.co",
			URL: "https://example.com/launch?utm_source=bitly", Title: "Launch page", Tags: []string{"launch", "2024"},
			CreatedAt: at("2024-02-10T09:00:00Z")},
		{Ref: "brand.co/pricing", Code: "pricing", Domain: "brand.co", URL: "https://example.com/pricing",
			CreatedAt: at("2023-11-02T17:45:30Z"), Clicks: pricing, Unsupported: []string{"deeplinks"}},
		{Ref: "bit.ly/help", Code: "help", Domain: "bit.ly", URL: "https://help.example.com/", Title: "Help centre",
			Tags: []string{"support"}, CreatedAt: at("2022-07-07T07:07:07Z"), Clicks: help},
		{Ref: "brand.co/help (custom back-half of bit.ly/help)", Code: "help", Domain: "brand.co", URL: "https://help.example.com/",
			Title: "Help centre", Tags: []string{"support"}, CreatedAt: at("2022-07-07T07:07:07Z")},
		{Ref: "brand.co/support (custom back-half of bit.ly/help)", Code: "support", Domain: "brand.co", URL: "https://help.example.com/",
			Title: "Help centre", Tags: []string{"support"}, CreatedAt: at("2022-07-07T07:07:07Z")},
	}
}

func TestBitly(t *testing.T) {
	p := bitlyPeer(t)
	src, err := openBitly(p, BitlyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := src.Progress().Total; got != 4 {
		t.Errorf("Total = %d, want the groups' 3 + 1", got)
	}
	d := drain(t, src)
	if err := sameRecords(d.recs, bitlyWant(false), false); err != nil {
		t.Fatal(err)
	}
	if len(d.bad) != 1 || d.bad[0].Ref != "bit.ly/3broken" {
		t.Fatalf("row errors %v, want bit.ly/3broken", d.bad)
	}
	errContains(t, d.bad[0], "created_at")
	if got := src.Progress().Read; got != 4 {
		t.Errorf("Read = %d, want 4 bitlinks", got)
	}
	if n := p.count("/v4/bitlinks/bit.ly/3xYzAbC" + bitlyClicks); n != 0 {
		t.Errorf("clicks fetched %d times though not asked for", n)
	}
}

func TestBitlyClicks(t *testing.T) {
	p := bitlyPeer(t)
	src, err := openBitly(p, BitlyOptions{Clicks: true})
	if err != nil {
		t.Fatal(err)
	}
	d := drain(t, src)
	if err := sameRecords(d.recs, bitlyWant(true), false); err != nil {
		t.Fatal(err)
	}
}

func TestBitlyGroups(t *testing.T) {
	p := bitlyPeer(t)
	src, err := openBitly(p, BitlyOptions{Groups: []string{"Bz9yx87wV6U"}})
	if err != nil {
		t.Fatal(err)
	}
	d := drain(t, src)
	if err := sameRecords(d.recs, bitlyWant(false)[3:], false); err != nil {
		t.Fatal(err)
	}
	if n := p.count(bitlyMarketing + bitlyFirst); n != 0 {
		t.Errorf("a group not asked for was read")
	}
	if _, err := openBitly(p, BitlyOptions{Groups: []string{"Bnope"}}); err == nil {
		t.Error("an unknown group: no error")
	}
}

func TestBitlyResume(t *testing.T) {
	p := bitlyPeer(t)
	checkResume(t, func(resume string) (Source, error) { return openBitly(p, BitlyOptions{Resume: resume, Clicks: true}) })
}

func TestBitlyForbidden(t *testing.T) {
	p := newFakePeer(t, "Authorization", "Bearer expired")
	p.on("/v4/groups", reply{status: http.StatusForbidden, file: "bitly/error-forbidden.json"})
	_, err := openBitly(p, BitlyOptions{Token: "expired"})
	var ae *APIError
	if !errors.Is(err, ErrUnauthorized) || !errors.As(err, &ae) || ae.Code != "FORBIDDEN" {
		t.Fatalf("%v, want FORBIDDEN matching ErrUnauthorized", err)
	}
	errContains(t, err, "forbidden to access this resource")
	if n := p.count("/v4/groups"); n != 1 {
		t.Errorf("a refused token was tried %d times", n)
	}
}

func TestBitlyRateLimits(t *testing.T) {
	p := bitlyPeer(t)
	// Both ways Bitly has said "slow down", and a passing server error, on
	// the way through the pages.
	p.on(bitlyMarketingNext,
		reply{status: http.StatusTooManyRequests, file: "bitly/error-too-many-requests.json"},
		reply{status: http.StatusForbidden, file: "bitly/error-rate-limit.json", header: map[string]string{"X-Ratelimit-Reason": "hourly"}},
		reply{status: http.StatusInternalServerError, file: "bitly/error-internal.json"},
		reply{file: "bitly/marketing-page-2.json"})
	src, err := openBitly(p, BitlyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := drain(t, src)
	if err := sameRecords(d.recs, bitlyWant(false), false); err != nil {
		t.Fatal(err)
	}
	if n := p.count(bitlyMarketingNext); n != 4 {
		t.Errorf("page 2 requested %d times, want 4", n)
	}
}

func TestBitlyServerErrorMidway(t *testing.T) {
	p := bitlyPeer(t)
	p.on(bitlySupport+bitlyFirst, reply{status: http.StatusServiceUnavailable, file: "bitly/error-internal.json"})
	src, err := openBitly(p, BitlyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	head, err := drainErr(src, -1)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.Code != "INTERNAL_ERROR" {
		t.Fatalf("%v, want the 503", err)
	}
	p.on(bitlySupport+bitlyFirst, reply{file: "bitly/support-page-1.json"})
	again, err := openBitly(p, BitlyOptions{Resume: src.Progress().Resume})
	if err != nil {
		t.Fatal(err)
	}
	tail := drain(t, again)
	if err := sameRecords(append(head.recs, tail.recs...), bitlyWant(false), false); err != nil {
		t.Fatal(err)
	}
	if n := p.count(bitlyMarketing + bitlyFirst); n != 1 {
		t.Errorf("the first group's first page fetched %d times; resuming should not fetch it again", n)
	}
}

func TestBitlySearchAfter(t *testing.T) {
	// Newer answers may carry only pagination.search_after.
	p := bitlyPeer(t)
	p.on(bitlyMarketing+bitlyFirst, reply{file: "bitly/marketing-page-1-search-after.json"})
	src, err := openBitly(p, BitlyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := drain(t, src)
	if len(d.recs) != 6 || len(d.bad) != 1 {
		t.Fatalf("got %d records and %d row errors", len(d.recs), len(d.bad))
	}
	if n := p.count(bitlyMarketingNext); n != 1 {
		t.Errorf("the search_after page was requested %d times", n)
	}
}

func TestBitlyCancel(t *testing.T) {
	p := bitlyPeer(t)
	src, err := openBitly(p, BitlyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Next(cancelled()); !errors.Is(err, context.Canceled) {
		t.Errorf("Next on a cancelled context: %v", err)
	}
}
