package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store"
)

// testDomains checks branded domains: the domains table, aliases unique
// per domain, lookups, edits and deletes by (domain, code), and the list
// filter by domain.
func testDomains(t *testing.T, open func(t *testing.T) store.Engine) {
	t.Run("Table", func(t *testing.T) {
		s := open(t)
		created := now()
		acme, err := s.InsertDomain(ctx(t), link.Domain{Host: "go.acme.example", RootRedirect: "https://acme.example/",
			NotFoundRedirect: "https://acme.example/404", Restricted: true, CreatedAt: created})
		if err != nil || acme <= 0 {
			t.Fatalf("InsertDomain = %d, %v; want a positive id", acme, err)
		}
		other, err := s.InsertDomain(ctx(t), link.Domain{Host: "acme.link", CreatedAt: created})
		if err != nil || other == acme {
			t.Fatalf("InsertDomain(acme.link) = %d, %v; want a new id", other, err)
		}
		if _, err := s.InsertDomain(ctx(t), link.Domain{Host: "acme.link", CreatedAt: created}); !errors.Is(err, link.ErrDomainTaken) {
			t.Errorf("InsertDomain(acme.link) again: %v, want ErrDomainTaken", err)
		}
		got, err := s.Domains(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		want := []link.Domain{
			{ID: other, Host: "acme.link", CreatedAt: created},
			{ID: acme, Host: "go.acme.example", RootRedirect: "https://acme.example/", NotFoundRedirect: "https://acme.example/404",
				Restricted: true, CreatedAt: created},
		}
		if !slices.EqualFunc(got, want, func(a, b link.Domain) bool {
			return a.ID == b.ID && a.Host == b.Host && a.RootRedirect == b.RootRedirect && a.NotFoundRedirect == b.NotFoundRedirect &&
				a.Restricted == b.Restricted && a.CreatedAt.Equal(b.CreatedAt)
		}) {
			t.Errorf("Domains = %+v, want %+v", got, want)
		}

		// A domain with a live link stays; once the link is deleted it goes.
		mustInsert(t, s, link.Link{Code: "onacme", Domain: acme, URL: "https://example.com/", CreatedAt: now()})
		mustInsert(t, s, link.Link{Code: "gone", Domain: acme, URL: "https://example.com/", CreatedAt: now()})
		mustInsert(t, s, link.Link{Code: "onacme", URL: "https://example.com/", CreatedAt: now()})
		if err := s.DeleteOn(ctx(t), acme, "gone"); err != nil {
			t.Fatal(err)
		}
		if counter, ok := s.(link.DomainCounter); !ok {
			t.Errorf("%T counts no links by domain", s)
		} else if n, err := counter.DomainLinkCounts(ctx(t)); err != nil || len(n) != 1 || n[acme] != 1 {
			t.Errorf("DomainLinkCounts = %v, %v; want one live link on %d, the default domain not counted", n, err, acme)
		}
		if err := s.DeleteDomain(ctx(t), acme); !errors.Is(err, link.ErrDomainInUse) {
			t.Errorf("DeleteDomain with a live link: %v, want ErrDomainInUse", err)
		}
		if err := s.DeleteOn(ctx(t), acme, "onacme"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteDomain(ctx(t), acme); err != nil {
			t.Errorf("DeleteDomain: %v", err)
		}
		if err := s.DeleteDomain(ctx(t), acme); !errors.Is(err, link.ErrDomainNotFound) {
			t.Errorf("DeleteDomain again: %v, want ErrDomainNotFound", err)
		}
		if got, _ := s.Domains(ctx(t)); len(got) != 1 || got[0].ID != other {
			t.Errorf("Domains after delete = %+v, want acme.link only", got)
		}
	})

	t.Run("AliasPerDomain", func(t *testing.T) {
		s := open(t)
		d1 := mustDomain(t, s, "go.one.example")
		d2 := mustDomain(t, s, "two.example")
		ids := map[int64]int64{}
		for _, d := range []int64{link.DefaultDomain, d1, d2} {
			ids[d] = mustInsert(t, s, link.Link{Code: "promo", Domain: d, URL: "https://example.com/" + string(rune('a'+d%26)), CreatedAt: now()})
		}
		if ids[d1] == ids[d2] || ids[d1] == ids[link.DefaultDomain] {
			t.Errorf("one code on three domains got ids %v, want three", ids)
		}
		for _, d := range []int64{d1, d2} {
			if _, err := s.Insert(ctx(t), link.Link{Code: "promo", Domain: d, URL: "https://example.com/again", CreatedAt: now()}); !errors.Is(err, link.ErrCodeTaken) {
				t.Errorf("Insert(promo) on domain %d again: %v, want ErrCodeTaken", d, err)
			}
		}
		for d, id := range ids {
			l, err := s.GetOn(ctx(t), d, "promo")
			if err != nil || l.ID != id || l.Domain != d || l.Code != "promo" {
				t.Errorf("GetOn(%d, promo) = %+v, %v; want id %d on domain %d", d, l, err, id, d)
			}
		}
		// Get is the default domain's.
		if l := mustGet(t, s, "promo"); l.ID != ids[link.DefaultDomain] || l.Domain != link.DefaultDomain {
			t.Errorf("Get(promo) = %+v, want the default domain's link %d", l, ids[link.DefaultDomain])
		}
		// A code on one domain is unknown on the others.
		mustInsert(t, s, link.Link{Code: "only1", Domain: d1, URL: "https://example.com/only", CreatedAt: now()})
		if _, err := s.Get(ctx(t), "only1"); !errors.Is(err, link.ErrNotFound) {
			t.Errorf("Get(only1) on the default domain: %v, want ErrNotFound", err)
		}
		if _, err := s.GetOn(ctx(t), d2, "only1"); !errors.Is(err, link.ErrNotFound) {
			t.Errorf("GetOn(d2, only1): %v, want ErrNotFound", err)
		}

		// Edits and deletes touch one domain's link only; a deleted code
		// stays reserved on its domain.
		_, after, err := s.UpdateOn(ctx(t), d1, "promo", func(l *link.Link) error {
			l.URL, l.Tags = "https://example.com/edited", []string{"edited"}
			return nil
		})
		if err != nil || after.URL != "https://example.com/edited" || after.Domain != d1 {
			t.Fatalf("UpdateOn(d1, promo) = %+v, %v", after, err)
		}
		if found, err := s.FindOn(ctx(t), d1, "promo"); err != nil || !slices.Equal(found.Tags, []string{"edited"}) {
			t.Errorf("FindOn(d1, promo) = %+v, %v; want the tag edited", found, err)
		}
		for _, d := range []int64{link.DefaultDomain, d2} {
			if l, _ := s.GetOn(ctx(t), d, "promo"); l.URL == "https://example.com/edited" {
				t.Errorf("UpdateOn(d1) changed domain %d's link", d)
			}
		}
		if err := s.DeleteOn(ctx(t), d2, "promo"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetOn(ctx(t), d2, "promo"); !errors.Is(err, link.ErrNotFound) {
			t.Errorf("GetOn(d2, promo) after delete: %v, want ErrNotFound", err)
		}
		if _, err := s.GetOn(ctx(t), d1, "promo"); err != nil {
			t.Errorf("GetOn(d1, promo) after deleting d2's: %v", err)
		}
		if err := s.DeleteOn(ctx(t), d2, "promo"); !errors.Is(err, link.ErrNotFound) {
			t.Errorf("DeleteOn(d2, promo) again: %v, want ErrNotFound", err)
		}
		if _, err := s.Insert(ctx(t), link.Link{Code: "promo", Domain: d2, URL: "https://example.com/reuse", CreatedAt: now()}); !errors.Is(err, link.ErrCodeTaken) {
			t.Errorf("Insert(promo) on d2 after delete: %v, want ErrCodeTaken", err)
		}
		// The default domain's Delete leaves the others.
		if err := s.Delete(ctx(t), "promo"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetOn(ctx(t), d1, "promo"); err != nil {
			t.Errorf("GetOn(d1, promo) after Delete(promo): %v", err)
		}
	})

	t.Run("ListByDomain", func(t *testing.T) {
		s := open(t)
		d1 := mustDomain(t, s, "go.one.example")
		base := now()
		for i, l := range []link.Link{
			{Code: "def1"}, {Code: "one1", Domain: d1}, {Code: "def2"}, {Code: "one2", Domain: d1},
		} {
			l.URL, l.CreatedAt = "https://example.com/", base.Add(time.Duration(i)*time.Second)
			mustInsert(t, s, l)
		}
		list := func(q link.ListQuery) []link.Code {
			q.Limit = 10
			ls, err := s.List(ctx(t), q)
			if err != nil {
				t.Fatal(err)
			}
			var out []link.Code
			for _, l := range ls {
				out = append(out, l.Code)
			}
			return out
		}
		for _, tt := range []struct {
			q    link.ListQuery
			want []link.Code
		}{
			{link.ListQuery{}, []link.Code{"one2", "def2", "one1", "def1"}},
			{link.ListQuery{OnDomain: true, Domain: d1}, []link.Code{"one2", "one1"}},
			{link.ListQuery{OnDomain: true, Domain: link.DefaultDomain}, []link.Code{"def2", "def1"}},
			{link.ListQuery{OnDomain: true, Domain: d1, Oldest: true}, []link.Code{"one1", "one2"}},
			{link.ListQuery{OnDomain: true, Domain: d1 + 100}, nil},
		} {
			if got := list(tt.q); !slices.Equal(got, tt.want) {
				t.Errorf("List(%+v) = %v, want %v", tt.q, got, tt.want)
			}
		}
	})

	t.Run("BatchOnDomain", func(t *testing.T) {
		s := open(t)
		d1 := mustDomain(t, s, "go.one.example")
		mustInsert(t, s, link.Link{Code: "batch", URL: "https://example.com/default", CreatedAt: now()})
		if err := s.InsertBatch(ctx(t), []link.Link{
			{Code: "batch", Domain: d1, URL: "https://example.com/one", CreatedAt: now(), Tags: []string{"t"}},
		}); err != nil {
			t.Fatal(err)
		}
		l, err := s.FindOn(ctx(t), d1, "batch")
		if err != nil || l.URL != "https://example.com/one" || !slices.Equal(l.Tags, []string{"t"}) {
			t.Errorf("FindOn(d1, batch) = %+v, %v", l, err)
		}
		if l, err := s.Find(ctx(t), "batch"); err != nil || len(l.Tags) != 0 {
			t.Errorf("Find(batch) = %+v, %v; want the default domain's, untagged", l, err)
		}
	})
}

func mustDomain(t *testing.T, s store.Engine, host string) int64 {
	t.Helper()
	id, err := s.InsertDomain(ctx(t), link.Domain{Host: host, CreatedAt: now()})
	if err != nil {
		t.Fatalf("InsertDomain(%s): %v", host, err)
	}
	return id
}
