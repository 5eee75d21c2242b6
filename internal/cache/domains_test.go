package cache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/cache"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/redisconn"
	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// TestDomains checks that both tiers key links by domain: one alias on two
// domains is two entries, an unknown code is remembered as unknown on its
// domain only, and creates, edits and deletes on one instance reach the
// other's in-process tier for that domain's entry alone.
func TestDomains(t *testing.T) {
	e := newEnv(t, servicetest.Redis(t))
	ctx := context.Background()
	d1, err := e.sql.InsertDomain(ctx, link.Domain{Host: "go.one.example", CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	open := func() *cache.Store {
		rdb, err := redisconn.Open(e.url, redisconn.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		// A long negative TTL: only an invalidation can end a miss.
		s, err := cache.New(e.sql, cache.WithDefaults(cache.Options{Redis: rdb, Prefix: e.prefix, Timeout: time.Second,
			Editor: e.sql, NegativeTTL: time.Hour, TTL: time.Hour, RedisTTL: time.Hour}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(); rdb.Close() })
		waitSubscribed(t, s)
		return s
	}
	a, b := open(), open()

	def, on1 := newLink("promo"), newLink("promo")
	on1.Domain, on1.URL = d1, "https://example.com/on-one"
	for _, l := range []link.Link{def, on1} {
		if _, err := a.Insert(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*cache.Store{a, b} {
		if got := mustGet(t, s, "promo"); got.URL != def.URL || got.Domain != link.DefaultDomain {
			t.Errorf("Get(promo) = %+v, want the default domain's", got)
		}
		got, err := s.GetOn(ctx, d1, "promo")
		if err != nil || got.URL != on1.URL || got.Domain != d1 || got.Code != "promo" {
			t.Errorf("GetOn(d1, promo) = %+v, %v; want %s", got, err, on1.URL)
		}
	}

	// An unknown code on d1 is remembered as unknown there, not on the
	// default domain; a create on b ends the miss on a.
	if _, err := a.GetOn(ctx, d1, "later"); !errors.Is(err, link.ErrNotFound) {
		t.Fatalf("GetOn(d1, later) = %v, want ErrNotFound", err)
	}
	if _, err := b.Insert(ctx, link.Link{Code: "later", Domain: d1, URL: "https://example.com/later", CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a sees b's create on d1", func() bool {
		l, err := a.GetOn(ctx, d1, "later")
		return err == nil && l.URL == "https://example.com/later"
	})
	if !isNotFound(a, "later") {
		t.Error("a create on d1 answers on the default domain")
	}

	// An edit and a delete on d1 through b reach a, and leave the default
	// domain's entry alone.
	if _, _, err := b.UpdateOn(ctx, d1, "promo", func(l *link.Link) error { l.URL = "https://example.com/edited"; return nil }); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a sees b's edit on d1", func() bool {
		l, err := a.GetOn(ctx, d1, "promo")
		return err == nil && l.URL == "https://example.com/edited"
	})
	if err := b.DeleteOn(ctx, d1, "promo"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a sees b's delete on d1", func() bool {
		_, err := a.GetOn(ctx, d1, "promo")
		return errors.Is(err, link.ErrNotFound)
	})
	if got := mustGet(t, a, "promo"); got.URL != def.URL {
		t.Errorf("Get(promo) after deleting d1's = %+v, want the default domain's", got)
	}
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
