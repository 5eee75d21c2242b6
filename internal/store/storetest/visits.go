package storetest

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store"
)

// testVisits checks link.Visitor: counting stops at the stored limit, a
// raised limit allows more, a link without a limit is always allowed, and
// deleted or unknown ids are never counted.
func testVisits(t *testing.T, s store.Engine) {
	limited := link.Link{Code: "limited", URL: "https://example.com/l", CreatedAt: now(), MaxVisits: 3}
	limited.ID = mustInsert(t, s, limited)
	for i := range 5 {
		ok, err := s.Visit(ctx(t), limited.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := i < 3; ok != want {
			t.Fatalf("visit %d of a link limited to 3: %v, want %v", i+1, ok, want)
		}
	}
	// Raising the limit allows as many more visits as it adds.
	if _, _, err := s.Update(ctx(t), "limited", func(l *link.Link) error { l.MaxVisits = 4; return nil }); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Visit(ctx(t), limited.ID); err != nil || !ok {
		t.Fatalf("visit after raising the limit to 4: %v, %v; want true", ok, err)
	}
	if ok, err := s.Visit(ctx(t), limited.ID); err != nil || ok {
		t.Fatalf("fifth visit of a link limited to 4: %v, %v; want false", ok, err)
	}
	// Removing the limit allows every visit.
	if _, _, err := s.Update(ctx(t), "limited", func(l *link.Link) error { l.MaxVisits = 0; return nil }); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Visit(ctx(t), limited.ID); err != nil || !ok {
		t.Fatalf("visit after removing the limit: %v, %v; want true", ok, err)
	}
	// An edit keeps the count; Get still reads the link as it was stored.
	if got := mustGet(t, s, "limited"); got.MaxVisits != 0 || got.URL != limited.URL {
		t.Errorf("Get after visits = %+v", got)
	}

	if ok, err := s.Visit(ctx(t), limited.ID+1000); err != nil || ok {
		t.Errorf("visit of an unknown id: %v, %v; want false", ok, err)
	}
	gone := link.Link{Code: "gonevisit", URL: "https://example.com/g", CreatedAt: now(), MaxVisits: 10}
	gone.ID = mustInsert(t, s, gone)
	if err := s.Delete(ctx(t), "gonevisit"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Visit(ctx(t), gone.ID); err != nil || ok {
		t.Errorf("visit of a deleted link: %v, %v; want false", ok, err)
	}
}

// testConcurrentVisits sends more concurrent visits than the limit allows:
// exactly the limit are counted.
func testConcurrentVisits(t *testing.T, s store.Engine) {
	const limit, visitors, each = 25, 8, 10
	l := link.Link{Code: "rush", URL: "https://example.com/rush", CreatedAt: now(), MaxVisits: limit}
	l.ID = mustInsert(t, s, l)
	var counted, refused atomic.Int64
	var wg sync.WaitGroup
	for range visitors {
		wg.Go(func() {
			for range each {
				ok, err := s.Visit(ctx(t), l.ID)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					counted.Add(1)
				} else {
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if counted.Load() != limit || refused.Load() != visitors*each-limit {
		t.Errorf("%d concurrent visits of a link limited to %d: %d counted, %d refused; want %d and %d",
			visitors*each, limit, counted.Load(), refused.Load(), limit, visitors*each-limit)
	}
}
