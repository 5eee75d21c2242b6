package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store"
)

// full returns a link with every option set.
func full(code link.Code, created time.Time) link.Link {
	return link.Link{
		Code: code, URL: "https://example.com/full?a=1", CreatedAt: created, ExpiresAt: created.Add(48 * time.Hour),
		Owner: 3, UserID: 9, Title: "Spring launch – ünïcode", Tags: []string{"launch", "q2"},
		DisabledAt: created.Add(time.Minute), DisabledReason: "phishing report #12",
		ValidFrom: created.Add(time.Hour), MaxVisits: 1000,
		PasswordHash: "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5",
		ForwardQuery: true,
		Rules: []link.Rule{
			{When: link.Condition{Device: "ios"}, URL: "https://apps.apple.com/app/x"},
			{When: link.Condition{Country: "DE", Language: "de"}, URL: "https://example.de/"},
		},
	}
}

// same reports how got differs from want, tags included when tags is set;
// "" when it does not.
func same(got, want link.Link, tags bool) string {
	if !tags {
		got, want = got.ForRedirect(), want.ForRedirect()
	}
	if len(got.Tags) == 0 {
		got.Tags = nil
	}
	if len(want.Tags) == 0 {
		want.Tags = nil
	}
	g, w := got, want
	for _, p := range []*link.Link{&g, &w} {
		p.CreatedAt, p.ExpiresAt, p.DisabledAt, p.ValidFrom = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	}
	if !reflect.DeepEqual(g, w) || !got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
		!got.DisabledAt.Equal(want.DisabledAt) || !got.ValidFrom.Equal(want.ValidFrom) {
		return fmt.Sprintf("got  %+v\nwant %+v", got, want)
	}
	return ""
}

func mustFind(t *testing.T, s link.Editor, c link.Code) link.Link {
	t.Helper()
	l, err := s.Find(ctx(t), c)
	if err != nil {
		t.Fatalf("Find(%s): %v", c, err)
	}
	return l
}

func testOptions(t *testing.T, s store.Engine) {
	want := full("opts", now())
	want.ID = mustInsert(t, s, want)
	if d := same(mustGet(t, s, "opts"), want, false); d != "" {
		t.Errorf("Get returns what the redirect needs:\n%s", d)
	}
	if d := same(mustFind(t, s, "opts"), want, true); d != "" {
		t.Errorf("Find returns everything:\n%s", d)
	}
	// A plain link reads back plain.
	plain := link.Link{Code: "plainopts", URL: "https://example.com/", CreatedAt: now()}
	plain.ID = mustInsert(t, s, plain)
	got := mustFind(t, s, "plainopts")
	if d := same(got, plain, true); d != "" || !got.Plain() {
		t.Errorf("plain link: Plain() = %v\n%s", got.Plain(), d)
	}
	if _, err := s.Find(ctx(t), "absent"); !errors.Is(err, link.ErrNotFound) {
		t.Errorf("Find(absent) = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx(t), "opts"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Find(ctx(t), "opts"); !errors.Is(err, link.ErrNotFound) {
		t.Errorf("Find after Delete = %v, want ErrNotFound", err)
	}
}

func testInsertBatchOptions(t *testing.T, s store.Engine) {
	created := now()
	batch := []link.Link{full("bo1", created), {Code: "bo2", URL: "https://example.com/2", CreatedAt: created, Tags: []string{"q2"}}, full("bo3", created)}
	batch[2].Tags = []string{"other"}
	if err := s.InsertBatch(ctx(t), batch); err != nil {
		t.Fatal(err)
	}
	for _, want := range batch {
		got := mustFind(t, s, want.Code)
		want.ID = got.ID
		if d := same(got, want, true); d != "" {
			t.Errorf("InsertBatch then Find(%s):\n%s", want.Code, d)
		}
	}
	// A failed batch stores no tags either.
	bad := []link.Link{{Code: "bo4", URL: "https://example.com/4", CreatedAt: created, Tags: []string{"ghost"}}, {Code: "bo1", URL: "https://example.com/", CreatedAt: created}}
	if err := s.InsertBatch(ctx(t), bad); !errors.Is(err, link.ErrCodeTaken) {
		t.Fatalf("InsertBatch with a taken code = %v, want ErrCodeTaken", err)
	}
	tags, err := s.Tags(ctx(t), link.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []link.TagCount{{Tag: "launch", Links: 1}, {Tag: "other", Links: 1}, {Tag: "q2", Links: 2}}; !reflect.DeepEqual(tags, want) {
		t.Errorf("Tags = %+v, want %+v", tags, want)
	}
}

func testUpdate(t *testing.T, s store.Engine) {
	created := now()
	orig := link.Link{Code: "edit", URL: "https://example.com/old", CreatedAt: created, Owner: 5, UserID: 6, Tags: []string{"a", "b"}}
	orig.ID = mustInsert(t, s, orig)

	// Every field that may change, changes; the rest stay whatever edit does.
	target := full("edit", created.Add(time.Hour))
	target.CreatedAt = created
	before, after, err := s.Update(ctx(t), "edit", func(l *link.Link) error {
		if d := same(*l, orig, true); d != "" {
			t.Errorf("edit was given:\n%s", d)
		}
		id := l.ID
		*l = full("other", created.Add(time.Hour))
		l.ID = id + 100
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	target.ID, target.Owner = orig.ID, orig.Owner
	if d := same(before, orig, true); d != "" {
		t.Errorf("Update's before:\n%s", d)
	}
	if d := same(after, target, true); d != "" {
		t.Errorf("Update's after:\n%s", d)
	}
	if d := same(mustFind(t, s, "edit"), target, true); d != "" {
		t.Errorf("Find after Update:\n%s", d)
	}
	if d := same(mustGet(t, s, "edit"), target, false); d != "" {
		t.Errorf("Get after Update:\n%s", d)
	}

	// Clearing every option brings the link back to plain.
	_, after, err = s.Update(ctx(t), "edit", func(l *link.Link) error {
		l.ExpiresAt, l.DisabledAt, l.ValidFrom = time.Time{}, time.Time{}, time.Time{}
		l.Title, l.DisabledReason, l.PasswordHash, l.Tags, l.Rules = "", "", "", nil, nil
		l.MaxVisits, l.ForwardQuery = 0, false
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustFind(t, s, "edit"); !got.Plain() || len(got.Tags) != 0 || got.Title != "" || !got.ExpiresAt.IsZero() || !after.Plain() {
		t.Errorf("after clearing: %+v", got)
	}

	// An edit that fails stores nothing, and its error comes back as it is.
	refuse := &link.Error{Kind: link.Invalid, Code: "nope", Message: "no"}
	_, _, err = s.Update(ctx(t), "edit", func(l *link.Link) error {
		l.URL = "https://example.com/never"
		l.Tags = []string{"never"}
		return refuse
	})
	if !errors.Is(err, refuse) {
		t.Errorf("Update with a failing edit = %v, want its error", err)
	}
	if got := mustFind(t, s, "edit"); got.URL == "https://example.com/never" || slices.Contains(got.Tags, "never") {
		t.Errorf("a failed edit was stored: %+v", got)
	}

	called := false
	for _, c := range []link.Code{"absent"} {
		if _, _, err := s.Update(ctx(t), c, func(*link.Link) error { called = true; return nil }); !errors.Is(err, link.ErrNotFound) {
			t.Errorf("Update(%s) = %v, want ErrNotFound", c, err)
		}
	}
	if err := s.Delete(ctx(t), "edit"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Update(ctx(t), "edit", func(*link.Link) error { called = true; return nil }); !errors.Is(err, link.ErrNotFound) {
		t.Errorf("Update of a deleted link = %v, want ErrNotFound", err)
	}
	if called {
		t.Error("Update ran edit on a missing link")
	}
}

// testConcurrentUpdates checks that edits apply one after the other: each
// adds a tag to what it read, and none is lost.
func testConcurrentUpdates(t *testing.T, s store.Engine) {
	mustInsert(t, s, link.Link{Code: "busy", URL: "https://example.com/", CreatedAt: now()})
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			for {
				_, _, err := s.Update(ctx(t), "busy", func(l *link.Link) error {
					l.Tags = append(l.Tags, fmt.Sprintf("t%d", i))
					slices.Sort(l.Tags)
					return nil
				})
				// SQLite may report a busy writer; try again.
				if errors.Is(err, link.ErrUnavailable) {
					continue
				}
				if err != nil {
					t.Error(err)
				}
				return
			}
		})
	}
	wg.Wait()
	if got := mustFind(t, s, "busy").Tags; len(got) != n {
		t.Fatalf("after %d concurrent edits the tags are %v", n, got)
	}
}

func testListFilters(t *testing.T, s store.Engine) {
	base := now()
	links := []link.Link{
		{Code: "f1", URL: "https://shop.example.com/a", CreatedAt: base, UserID: 1, Tags: []string{"sale"}, Title: "Winter SALE"},
		{Code: "f2", URL: "https://example.com/", CreatedAt: base.Add(time.Second), UserID: 1},
		{Code: "f3", URL: "https://notexample.com/x?next=https://a.example.com/", CreatedAt: base.Add(2 * time.Second), UserID: 1, Tags: []string{"sale", "news"}},
		{Code: "f4", URL: "http://example.com:8080/100%25_off", CreatedAt: base.Add(3 * time.Second), UserID: 2, Tags: []string{"sale"}},
		{Code: "CaseF5", URL: "https://other.example/", CreatedAt: base.Add(4 * time.Second), Owner: 7},
		{Code: "f6", URL: "https://example.com/gone", CreatedAt: base.Add(5 * time.Second), UserID: 1, Tags: []string{"sale"}},
	}
	for _, l := range links {
		mustInsert(t, s, l)
	}
	if err := s.Delete(ctx(t), "f6"); err != nil {
		t.Fatal(err)
	}
	list := func(q link.ListQuery) string {
		t.Helper()
		if q.Limit == 0 {
			q.Limit = 10
		}
		ls, err := s.List(ctx(t), q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		var out []string
		for _, l := range ls {
			out = append(out, string(l.Code))
		}
		return strings.Join(out, ",")
	}
	for _, tt := range []struct {
		q    link.ListQuery
		want string
	}{
		{link.ListQuery{UserID: 1}, "f3,f2,f1"},
		{link.ListQuery{UserID: 2}, "f4"},
		{link.ListQuery{Owner: 7}, "CaseF5"},
		{link.ListQuery{Tag: "sale"}, "f4,f3,f1"},
		{link.ListQuery{Tag: "sale", UserID: 1}, "f3,f1"},
		{link.ListQuery{Tag: "SALE"}, ""},
		{link.ListQuery{Tag: "none"}, ""},
		{link.ListQuery{Search: "sale"}, "f1"},                       // title, any case
		{link.ListQuery{Search: "casef"}, "CaseF5"},                  // code, any case
		{link.ListQuery{Search: "NOTEXAMPLE"}, "f3"},                 // URL
		{link.ListQuery{Search: "%"}, "f4"},                          // a literal percent sign
		{link.ListQuery{Search: "0_o"}, ""},                          // _ is no wildcard
		{link.ListQuery{Search: "_off"}, "f4"},                       // but a literal underscore
		{link.ListQuery{DestinationHost: "example.com"}, "f4,f2,f1"}, // host, subdomain, port; not a path or query
		{link.ListQuery{DestinationHost: "shop.example.com"}, "f1"},  // subdomains only below
		{link.ListQuery{DestinationHost: "ample.com"}, ""},           // whole labels only
		{link.ListQuery{DestinationHost: "example"}, "CaseF5"},       // other.example
		{link.ListQuery{DestinationHost: "example.com", UserID: 1, Tag: "sale", Search: "winter"}, "f1"},
		{link.ListQuery{Oldest: true}, "f1,f2,f3,f4,CaseF5"},
		{link.ListQuery{Oldest: true, Tag: "sale", Limit: 1}, "f1"},
		{link.ListQuery{Oldest: true, Tag: "sale", After: &link.Cursor{CreatedAt: base, Code: "f1"}}, "f3,f4"},
		{link.ListQuery{Tag: "sale", After: &link.Cursor{CreatedAt: base.Add(3 * time.Second), Code: "f4"}}, "f3,f1"},
	} {
		if got := list(tt.q); got != tt.want {
			t.Errorf("List(%+v) = %q, want %q", tt.q, got, tt.want)
		}
	}
	// Listed links carry their tags.
	ls, err := s.List(ctx(t), link.ListQuery{Tag: "news", Limit: 10})
	if err != nil || len(ls) != 1 || !slices.Equal(ls[0].Tags, []string{"news", "sale"}) {
		t.Errorf("List(tag news) = %+v, %v; want f3 with tags news, sale", ls, err)
	}
}

func testTags(t *testing.T, s store.Engine) {
	created := now()
	for _, l := range []link.Link{
		{Code: "t1", URL: "https://example.com/1", CreatedAt: created, UserID: 1, Owner: 4, Tags: []string{"a", "b"}},
		{Code: "t2", URL: "https://example.com/2", CreatedAt: created, UserID: 1, Tags: []string{"a"}},
		{Code: "t3", URL: "https://example.com/3", CreatedAt: created, UserID: 2, Tags: []string{"a", "c"}},
		{Code: "t4", URL: "https://example.com/4", CreatedAt: created, UserID: 1, Tags: []string{"d"}},
	} {
		mustInsert(t, s, l)
	}
	if err := s.Delete(ctx(t), "t4"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		q    link.ListQuery
		want []link.TagCount
	}{
		{link.ListQuery{}, []link.TagCount{{Tag: "a", Links: 3}, {Tag: "b", Links: 1}, {Tag: "c", Links: 1}}},
		{link.ListQuery{UserID: 1}, []link.TagCount{{Tag: "a", Links: 2}, {Tag: "b", Links: 1}}},
		{link.ListQuery{Owner: 4}, []link.TagCount{{Tag: "a", Links: 1}, {Tag: "b", Links: 1}}},
		{link.ListQuery{UserID: 3}, nil},
	} {
		got, err := s.Tags(ctx(t), tt.q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			got = nil
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Tags(%+v) = %+v, want %+v", tt.q, got, tt.want)
		}
	}
}

func testLinksTo(t *testing.T, s store.Engine) {
	created := now()
	for _, l := range []link.Link{
		{Code: "h1", URL: "https://evil.example/", CreatedAt: created},
		{Code: "h2", URL: "http://login.evil.example:8443/x", CreatedAt: created},
		{Code: "h3", URL: "https://good.example/?u=https://evil.example/", CreatedAt: created},
		{Code: "h4", URL: "https://notevil.example/", CreatedAt: created},
		{Code: "h5", URL: "https://evil.example#frag", CreatedAt: created, DisabledAt: created},
		{Code: "h6", URL: "https://evil.example?q", CreatedAt: created},
		{Code: "h7", URL: "https://evil.example/deleted", CreatedAt: created},
		{Code: "h8", URL: "https://bad_host.test/", CreatedAt: created},
		{Code: "h9", URL: "https://badxhost.test/", CreatedAt: created},
	} {
		mustInsert(t, s, l)
	}
	if err := s.Delete(ctx(t), "h7"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		hosts []string
		want  string
	}{
		{[]string{"evil.example"}, "h1,h2,h6"},
		{[]string{"login.evil.example", "notevil.example"}, "h2,h4"},
		{[]string{"bad_host.test"}, "h8"},
		{[]string{"example"}, "h1,h2,h3,h4,h6"},
		{[]string{"nothing.example"}, ""},
		{nil, ""},
	} {
		ls, err := s.LinksTo(ctx(t), tt.hosts)
		if err != nil {
			t.Fatal(err)
		}
		var codes []string
		for _, l := range ls {
			codes = append(codes, string(l.Code))
		}
		slices.Sort(codes)
		if got := strings.Join(codes, ","); got != tt.want {
			t.Errorf("LinksTo(%q) = %s, want %s", tt.hosts, got, tt.want)
		}
	}
}
