// Package storetest checks a storage engine against the contracts written
// on store.Engine and the interfaces it is made of: link.Store, link.Lister,
// link.BatchStore, apikey.Store and the id counter. Every engine runs it
// from its own tests, so the engines cannot drift apart.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store"
)

// Run runs the conformance suite. open returns an empty, migrated store that
// the test may use alone; open is called once per subtest.
func Run(t *testing.T, open func(t *testing.T) store.Engine) {
	t.Run("GetMissing", func(t *testing.T) {
		_, err := open(t).Get(ctx(t), "absent")
		if !errors.Is(err, link.ErrNotFound) {
			t.Fatalf("Get(absent) = %v, want ErrNotFound", err)
		}
	})
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("InsertDuplicate", func(t *testing.T) {
		s := open(t)
		mustInsert(t, s, link.Link{Code: "dup", URL: "https://a.example/", CreatedAt: now()})
		_, err := s.Insert(ctx(t), link.Link{Code: "dup", URL: "https://b.example/", CreatedAt: now()})
		if !errors.Is(err, link.ErrCodeTaken) {
			t.Fatalf("second Insert(dup) = %v, want ErrCodeTaken", err)
		}
		if l := mustGet(t, s, "dup"); l.URL != "https://a.example/" {
			t.Fatalf("duplicate insert overwrote the link: URL %q", l.URL)
		}
	})
	t.Run("CaseSensitive", func(t *testing.T) {
		s := open(t)
		mustInsert(t, s, link.Link{Code: "MiXed", URL: "https://upper.example/", CreatedAt: now()})
		mustInsert(t, s, link.Link{Code: "mixed", URL: "https://lower.example/", CreatedAt: now()})
		if got := mustGet(t, s, "MiXed").URL; got != "https://upper.example/" {
			t.Errorf("Get(MiXed).URL = %q", got)
		}
		if got := mustGet(t, s, "mixed").URL; got != "https://lower.example/" {
			t.Errorf("Get(mixed).URL = %q", got)
		}
		if _, err := s.Get(ctx(t), "MIXED"); !errors.Is(err, link.ErrNotFound) {
			t.Errorf("Get(MIXED) = %v, want ErrNotFound", err)
		}
	})
	t.Run("DeleteKeepsCodeReserved", func(t *testing.T) {
		s := open(t)
		mustInsert(t, s, link.Link{Code: "gone", URL: "https://a.example/", CreatedAt: now()})
		if err := s.Delete(ctx(t), "gone"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.Get(ctx(t), "gone"); !errors.Is(err, link.ErrNotFound) {
			t.Errorf("Get after Delete = %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx(t), "gone"); !errors.Is(err, link.ErrNotFound) {
			t.Errorf("second Delete = %v, want ErrNotFound", err)
		}
		_, err := s.Insert(ctx(t), link.Link{Code: "gone", URL: "https://b.example/", CreatedAt: now()})
		if !errors.Is(err, link.ErrCodeTaken) {
			t.Errorf("Insert of a deleted code = %v, want ErrCodeTaken", err)
		}
	})
	t.Run("DeleteMissing", func(t *testing.T) {
		if err := open(t).Delete(ctx(t), "absent"); !errors.Is(err, link.ErrNotFound) {
			t.Fatalf("Delete(absent) = %v, want ErrNotFound", err)
		}
	})
	t.Run("ConcurrentInsertOneWinner", func(t *testing.T) { testConcurrentInsert(t, open(t)) })
	t.Run("List", func(t *testing.T) { testList(t, open(t)) })
	t.Run("InsertBatch", func(t *testing.T) { testInsertBatch(t, open(t)) })
	t.Run("Existing", func(t *testing.T) { testExisting(t, open(t)) })
	t.Run("CountLinks", func(t *testing.T) { testCountLinks(t, open(t)) })
	t.Run("CountClicks", func(t *testing.T) { testCountClicks(t, open(t)) })
	t.Run("ReserveIDs", func(t *testing.T) { testReserveIDs(t, open(t)) })
	t.Run("Setting", func(t *testing.T) { testSetting(t, open(t)) })
	t.Run("APIKeys", func(t *testing.T) { testAPIKeys(t, open(t)) })
	t.Run("Options", func(t *testing.T) { testOptions(t, open(t)) })
	t.Run("InsertBatchOptions", func(t *testing.T) { testInsertBatchOptions(t, open(t)) })
	t.Run("Update", func(t *testing.T) { testUpdate(t, open(t)) })
	t.Run("ConcurrentUpdates", func(t *testing.T) { testConcurrentUpdates(t, open(t)) })
	t.Run("ListFilters", func(t *testing.T) { testListFilters(t, open(t)) })
	t.Run("Tags", func(t *testing.T) { testTags(t, open(t)) })
	t.Run("LinksTo", func(t *testing.T) { testLinksTo(t, open(t)) })
	t.Run("Visits", func(t *testing.T) { testVisits(t, open(t)) })
	t.Run("ConcurrentVisits", func(t *testing.T) { testConcurrentVisits(t, open(t)) })
	t.Run("Domains", func(t *testing.T) { testDomains(t, open) })
}

func ctx(t *testing.T) context.Context { return t.Context() }

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func mustInsert(t *testing.T, s link.Store, l link.Link) int64 {
	t.Helper()
	id, err := s.Insert(ctx(t), l)
	if err != nil {
		t.Fatalf("Insert(%s): %v", l.Code, err)
	}
	if id <= 0 {
		t.Fatalf("Insert(%s) assigned id %d, want a positive id", l.Code, id)
	}
	return id
}

func mustGet(t *testing.T, s link.Store, c link.Code) link.Link {
	t.Helper()
	l, err := s.Get(ctx(t), c)
	if err != nil {
		t.Fatalf("Get(%s): %v", c, err)
	}
	return l
}

func testRoundTrip(t *testing.T, s store.Engine) {
	created := now()
	tests := []link.Link{
		{Code: "plain", URL: "https://example.com/", CreatedAt: created},
		{Code: "expiring", URL: "http://example.com/a?b=c#d", CreatedAt: created, ExpiresAt: created.Add(time.Hour), Owner: 42},
		{Code: "unicode_path-1", URL: "https://xn--bcher-kva.example/%E2%82%AC/ü?q=ä", CreatedAt: created},
		{Code: "long", URL: "https://example.com/" + strings.Repeat("a", 8192-20), CreatedAt: created},
		{Code: link.Code(strings.Repeat("x", 64)), URL: "https://example.com/max-alias", CreatedAt: created},
	}
	ids := make(map[int64]link.Code)
	for _, want := range tests {
		want.ID = mustInsert(t, s, want)
		if other, dup := ids[want.ID]; dup {
			t.Errorf("Insert(%s) assigned id %d, already %s's", want.Code, want.ID, other)
		}
		ids[want.ID] = want.Code
		got := mustGet(t, s, want.Code)
		if got.ID != want.ID || got.Code != want.Code || got.URL != want.URL || !got.CreatedAt.Equal(want.CreatedAt) ||
			!got.ExpiresAt.Equal(want.ExpiresAt) || got.Owner != want.Owner {
			t.Errorf("Get(%s) = %+v, want %+v", want.Code, got, want)
		}
	}
}

func testConcurrentInsert(t *testing.T, s store.Engine) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Insert(ctx(t), link.Link{Code: "race", URL: fmt.Sprintf("https://%d.example/", i), CreatedAt: now()})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, link.ErrCodeTaken):
			t.Errorf("Insert: %v, want nil or ErrCodeTaken", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent inserts of one code succeeded, want 1", won)
	}
}

func testList(t *testing.T, s store.Engine) {
	base := now()
	// Two links share a timestamp so the code breaks the tie.
	links := []link.Link{
		{Code: "l1", URL: "https://1.example/", CreatedAt: base, Owner: 1},
		{Code: "l2", URL: "https://2.example/", CreatedAt: base.Add(time.Second), Owner: 2},
		{Code: "l3a", URL: "https://3.example/", CreatedAt: base.Add(2 * time.Second), Owner: 1},
		{Code: "l3b", URL: "https://3b.example/", CreatedAt: base.Add(2 * time.Second)},
		{Code: "l4", URL: "https://4.example/", CreatedAt: base.Add(3 * time.Second), Owner: 1},
		{Code: "l5", URL: "https://5.example/", CreatedAt: base.Add(4 * time.Second), Owner: 1},
	}
	for _, l := range links {
		mustInsert(t, s, l)
	}
	if err := s.Delete(ctx(t), "l4"); err != nil {
		t.Fatal(err)
	}
	codes := func(ls []link.Link) string {
		var out []string
		for _, l := range ls {
			out = append(out, string(l.Code))
		}
		return strings.Join(out, ",")
	}
	list := func(q link.ListQuery) []link.Link {
		t.Helper()
		ls, err := s.List(ctx(t), q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		return ls
	}

	if got := codes(list(link.ListQuery{Limit: 10})); got != "l5,l3b,l3a,l2,l1" {
		t.Errorf("List(all) = %s, want l5,l3b,l3a,l2,l1", got)
	}
	if got := codes(list(link.ListQuery{Owner: 1, Limit: 10})); got != "l5,l3a,l1" {
		t.Errorf("List(owner 1) = %s, want l5,l3a,l1", got)
	}
	// Walk all pages two at a time.
	var walked []link.Link
	q := link.ListQuery{Limit: 2}
	for range 10 {
		page := list(q)
		walked = append(walked, page...)
		if len(page) < q.Limit {
			break
		}
		last := page[len(page)-1]
		q.After = &link.Cursor{CreatedAt: last.CreatedAt, Code: last.Code}
	}
	if got := codes(walked); got != "l5,l3b,l3a,l2,l1" {
		t.Errorf("paged List = %s, want l5,l3b,l3a,l2,l1", got)
	}
	if got := list(link.ListQuery{Owner: 99, Limit: 10}); len(got) != 0 {
		t.Errorf("List(owner 99) = %s, want nothing", codes(got))
	}
}

func testInsertBatch(t *testing.T, s store.Engine) {
	created := now()
	// More links than one statement or one COPY buffer holds.
	batch := make([]link.Link, 5000)
	for i := range batch {
		batch[i] = link.Link{Code: link.Code(fmt.Sprintf("b%05d", i)), URL: fmt.Sprintf("https://example.com/%d", i), CreatedAt: created}
		if i%2 == 0 {
			batch[i].ExpiresAt = created.Add(time.Hour)
		}
	}
	batch[7].Owner = 42
	if err := s.InsertBatch(ctx(t), batch); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 7, 8, 1234, 4999} {
		got := mustGet(t, s, batch[i].Code)
		if got.URL != batch[i].URL || !got.CreatedAt.Equal(created) || !got.ExpiresAt.Equal(batch[i].ExpiresAt) || got.Owner != batch[i].Owner {
			t.Errorf("Get(%s) = %+v, want %+v", batch[i].Code, got, batch[i])
		}
	}

	// A batch with one taken code, or one code twice, stores nothing.
	for _, clash := range [][]link.Link{
		{{Code: "fresh1", URL: "https://example.com/f1", CreatedAt: created}, {Code: batch[7].Code, URL: "https://example.com/again", CreatedAt: created}},
		{{Code: "fresh1", URL: "https://example.com/f1", CreatedAt: created}, {Code: "fresh1", URL: "https://example.com/f2", CreatedAt: created}},
	} {
		if err := s.InsertBatch(ctx(t), clash); !errors.Is(err, link.ErrCodeTaken) {
			t.Fatalf("InsertBatch(%s, %s) = %v, want ErrCodeTaken", clash[0].Code, clash[1].Code, err)
		}
		if _, err := s.Get(ctx(t), "fresh1"); !errors.Is(err, link.ErrNotFound) {
			t.Fatalf("Get(fresh1) after a failed batch = %v, want ErrNotFound", err)
		}
	}
	if got := mustGet(t, s, batch[7].Code); got.URL != batch[7].URL {
		t.Fatalf("a failed batch overwrote %s: %q", batch[7].Code, got.URL)
	}
	if err := s.InsertBatch(ctx(t), nil); err != nil {
		t.Fatalf("InsertBatch(nil) = %v", err)
	}
	// Ordinary inserts still work afterwards.
	mustInsert(t, s, link.Link{Code: "after", URL: "https://example.com/after", CreatedAt: created})
}

func testReserveIDs(t *testing.T, s store.Engine) {
	const workers, each, block = 8, 25, 100
	var mu sync.Mutex
	seen := make(map[uint64]bool)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				first, err := s.ReserveIDs(ctx(t), block)
				if err != nil {
					t.Errorf("ReserveIDs: %v", err)
					return
				}
				mu.Lock()
				for id := first; id < first+block; id++ {
					if seen[id] {
						t.Errorf("id %d reserved twice", id)
					}
					seen[id] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != workers*each*block {
		t.Fatalf("reserved %d distinct ids, want %d", len(seen), workers*each*block)
	}
	first, err := s.ReserveIDs(ctx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	for id := range seen {
		if id >= first {
			t.Fatalf("new reservation %d is not above earlier id %d", first, id)
		}
	}
}

func testSetting(t *testing.T, s store.Engine) {
	var wg sync.WaitGroup
	got := make([]string, 6)
	for i := range got {
		wg.Go(func() {
			v, err := s.Setting(ctx(t), "k", fmt.Sprintf("v%d", i))
			if err != nil {
				t.Errorf("Setting: %v", err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for _, v := range got {
		if v != got[0] || v == "" {
			t.Fatalf("concurrent first Settings disagree: %q", got)
		}
	}
	if v, err := s.Setting(ctx(t), "k", "other"); err != nil || v != got[0] {
		t.Fatalf("Setting(k, other) = %q, %v; want the stored %q", v, err, got[0])
	}
}

func testAPIKeys(t *testing.T, s store.Engine) {
	at := now()
	a, err := s.CreateKey(ctx(t), apikey.Key{Name: "a", Prefix: "sl_aaa", Hash: []byte("hash-a-hash-a-hash-a-hash-a-hash"), CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateKey(ctx(t), apikey.Key{Name: "b", Prefix: "sl_bbb", Hash: []byte("hash-b-hash-b-hash-b-hash-b-hash"), Admin: true, CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || b.ID == 0 || a.ID == b.ID {
		t.Fatalf("key ids %d and %d, want distinct and non-zero", a.ID, b.ID)
	}
	got, err := s.KeyByHash(ctx(t), []byte("hash-b-hash-b-hash-b-hash-b-hash"))
	if err != nil || got.ID != b.ID || !got.Admin || got.Name != "b" || got.Prefix != "sl_bbb" || !got.CreatedAt.Equal(at) {
		t.Fatalf("KeyByHash(b) = %+v, %v", got, err)
	}
	if _, err := s.KeyByHash(ctx(t), []byte("nope")); !errors.Is(err, apikey.ErrNotFound) {
		t.Fatalf("KeyByHash(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.RevokeKey(ctx(t), a.ID, at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(ctx(t), a.ID, at.Add(time.Hour)); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if err := s.RevokeKey(ctx(t), 999999, at); !errors.Is(err, apikey.ErrNotFound) {
		t.Fatalf("RevokeKey(unknown) = %v, want ErrNotFound", err)
	}
	keys, err := s.ListKeys(ctx(t))
	if err != nil || len(keys) != 2 {
		t.Fatalf("ListKeys = %+v, %v", keys, err)
	}
	if !keys[0].RevokedAt.Equal(at.Add(time.Second)) || !keys[1].RevokedAt.IsZero() {
		t.Fatalf("revocation times = %v, %v; want first revoke kept and b active", keys[0].RevokedAt, keys[1].RevokedAt)
	}
	_, err = s.CreateKey(ctx(t), apikey.Key{Name: "dup", Prefix: "sl_ccc", Hash: []byte("hash-b-hash-b-hash-b-hash-b-hash"), CreatedAt: at})
	if err == nil {
		t.Fatal("CreateKey with a duplicate hash succeeded")
	}
}
