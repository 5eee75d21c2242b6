package app

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
)

// countingLister counts the pages a pass reads and the largest.
type countingLister struct {
	link.Lister
	pages, largest int
}

func (c *countingLister) List(ctx context.Context, q link.ListQuery) ([]link.Link, error) {
	ls, err := c.Lister.List(ctx, q)
	c.pages++
	c.largest = max(c.largest, len(ls))
	return ls, err
}

// TestDisableMatchingPages: a pass reads the links a page at a time, never
// more than a page in memory, and reaches links on every page, links
// created in the same microsecond included; disabled and expired links are
// passed over.
func TestDisableMatchingPages(t *testing.T) {
	db := sqlitetest.Open(t)
	ctx := t.Context()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	want := map[link.Code]bool{}
	for i := range 23 {
		l := link.Link{Code: link.Code(fmt.Sprintf("code%02d", i)), URL: fmt.Sprintf("https://fine.example/%d", i), CreatedAt: at.Add(time.Duration(i/3) * time.Second)}
		switch {
		case i%4 == 0:
			l.URL = fmt.Sprintf("https://bad.example/%d", i)
			want[l.Code] = true
		case i == 5:
			l.URL, l.ExpiresAt = "https://bad.example/expired", at.Add(time.Hour)
		}
		if _, err := db.Insert(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	lister := &countingLister{Lister: db}
	d := newStoreDisabler(lister, db, audit.New(db, nil, nil), nil)
	d.page = 4
	d.now = func() time.Time { return at.Add(2 * time.Hour) }
	match := func(u string) bool { return len(u) > 19 && u[:19] == "https://bad.example" }
	n, err := d.DisableMatching(ctx, match, "on the blocklist test")
	if err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Errorf("disabled %d, want %d", n, len(want))
	}
	if lister.pages != 6 || lister.largest != 4 {
		t.Errorf("read %d pages, the largest of %d links; want 6 of at most 4", lister.pages, lister.largest)
	}
	for i := range 23 {
		c := link.Code(fmt.Sprintf("code%02d", i))
		l, err := db.Find(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if disabled := !l.DisabledAt.IsZero(); disabled != want[c] {
			t.Errorf("%s (%s): disabled %v, want %v", c, l.URL, disabled, want[c])
		}
	}
	// A second pass finds nothing left to do.
	if n, err := d.DisableMatching(ctx, match, "again"); err != nil || n != 0 {
		t.Errorf("second pass disabled %d, %v; want 0", n, err)
	}
}
