package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store"
)

// SetClicks stores a link's clicks of all time, people and bots apart, as
// the analytics writers keep them (the clicks_total table).
type SetClicks func(t *testing.T, linkID, humans, bots int64)

// RunClickOrder checks listing by clicks (link.ListQuery.ByClicks). open
// returns an empty, migrated store and a way to give its links clicks.
func RunClickOrder(t *testing.T, open func(t *testing.T) (store.Engine, SetClicks)) {
	s, set := open(t)
	base := now()
	// c2 was never clicked and c6 only by bots: both count 0, and their
	// creation breaks the tie, as it does between c1 and c3.
	links := []struct {
		l              link.Link
		humans, bots   int64
		clickedAtLeast bool
	}{
		{link.Link{Code: "c1", URL: "https://1.example/", CreatedAt: base, UserID: 1, Tags: []string{"sale"}}, 5, 1, true},
		{link.Link{Code: "c2", URL: "https://2.example/", CreatedAt: base.Add(time.Second), UserID: 1}, 0, 0, false},
		{link.Link{Code: "c3", URL: "https://3.example/", CreatedAt: base.Add(2 * time.Second), UserID: 1, Tags: []string{"sale"}}, 5, 0, true},
		{link.Link{Code: "c4", URL: "https://4.example/", CreatedAt: base.Add(3 * time.Second), UserID: 2}, 9, 0, true},
		{link.Link{Code: "c5", URL: "https://5.example/", CreatedAt: base.Add(4 * time.Second), UserID: 1}, 1, 0, true},
		{link.Link{Code: "c6", URL: "https://6.example/", CreatedAt: base.Add(5 * time.Second), UserID: 1}, 0, 40, true},
		{link.Link{Code: "c7", URL: "https://7.example/", CreatedAt: base.Add(6 * time.Second), UserID: 1}, 100, 0, true},
	}
	for _, x := range links {
		id := mustInsert(t, s, x.l)
		if x.clickedAtLeast {
			set(t, id, x.humans, x.bots)
		}
	}
	// A deleted link keeps its clicks but leaves every listing.
	if err := s.Delete(ctx(t), "c7"); err != nil {
		t.Fatal(err)
	}
	list := func(q link.ListQuery) []link.Link {
		t.Helper()
		if q.Limit == 0 {
			q.Limit = 10
		}
		ls, err := s.List(ctx(t), q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		return ls
	}
	show := func(ls []link.Link) string {
		var out []string
		for _, l := range ls {
			out = append(out, fmt.Sprintf("%s=%d", l.Code, l.Clicks))
		}
		return strings.Join(out, ",")
	}
	for _, tt := range []struct {
		q    link.ListQuery
		want string
	}{
		{link.ListQuery{ByClicks: true}, "c4=9,c3=5,c1=5,c5=1,c6=0,c2=0"},
		{link.ListQuery{ByClicks: true, Oldest: true}, "c2=0,c6=0,c5=1,c1=5,c3=5,c4=9"},
		{link.ListQuery{ByClicks: true, UserID: 1}, "c3=5,c1=5,c5=1,c6=0,c2=0"},
		{link.ListQuery{ByClicks: true, Tag: "sale"}, "c3=5,c1=5"},
		{link.ListQuery{ByClicks: true, Search: "5.example"}, "c5=1"},
		{link.ListQuery{ByClicks: true, DestinationHost: "4.example"}, "c4=9"},
		{link.ListQuery{ByClicks: true, After: &link.Cursor{ByClicks: true, Clicks: 5, CreatedAt: base.Add(2 * time.Second), Code: "c3"}}, "c1=5,c5=1,c6=0,c2=0"},
		{link.ListQuery{ByClicks: true, Oldest: true, After: &link.Cursor{ByClicks: true, Clicks: 0, CreatedAt: base.Add(5 * time.Second), Code: "c6"}}, "c5=1,c1=5,c3=5,c4=9"},
		// WithClicks fills the clicks and keeps the newest-first order.
		{link.ListQuery{WithClicks: true}, "c6=0,c5=1,c4=9,c3=5,c2=0,c1=5"},
		{link.ListQuery{WithClicks: true, After: &link.Cursor{CreatedAt: base.Add(3 * time.Second), Code: "c4"}}, "c3=5,c2=0,c1=5"},
	} {
		if got := show(list(tt.q)); got != tt.want {
			t.Errorf("List(%+v) = %q, want %q", tt.q, got, tt.want)
		}
	}
	// Walking the pages two at a time, with the cursor a page ends on,
	// gives the whole order once, both ways.
	for _, oldest := range []bool{false, true} {
		want := show(list(link.ListQuery{ByClicks: true, Oldest: oldest}))
		var walked []link.Link
		q := link.ListQuery{ByClicks: true, Oldest: oldest, Limit: 2}
		for range 10 {
			page := list(q)
			walked = append(walked, page...)
			if len(page) < q.Limit {
				break
			}
			last := page[len(page)-1]
			q.After = &link.Cursor{ByClicks: true, Clicks: last.Clicks, CreatedAt: last.CreatedAt, Code: last.Code}
		}
		if got := show(walked); got != want {
			t.Errorf("pages by clicks (oldest %v) = %q, want %q", oldest, got, want)
		}
	}
	// Other orders leave Clicks alone.
	for _, l := range list(link.ListQuery{}) {
		if l.Clicks != 0 {
			t.Errorf("List by creation: %s has Clicks %d, want 0", l.Code, l.Clicks)
		}
	}
}
