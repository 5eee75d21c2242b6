package shortcode_test

import (
	"testing"

	"github.com/shortlinks/shortlinks/internal/shortcode"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
)

// TestNextN checks that NextN takes what is left of the current block, then
// reserves exactly what it still needs: a bulk load leaves no id unused.
func TestNextN(t *testing.T) {
	db := sqlitetest.Open(t)
	p := mustPerm(t, 3)
	g := shortcode.NewGenerator(p, db, 10)
	first, err := g.Next(t.Context()) // reserves a block of 10
	if err != nil {
		t.Fatal(err)
	}
	codes, err := g.NextN(t.Context(), 25)
	if err != nil {
		t.Fatal(err)
	}
	start, err := p.Decode(string(first))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 25 {
		t.Fatalf("NextN(25) returned %d codes", len(codes))
	}
	for i, c := range codes {
		id, err := p.Decode(string(c))
		if err != nil || id != start+1+uint64(i) {
			t.Fatalf("code %d decodes to %d, %v; want id %d", i, id, err, start+1+uint64(i))
		}
	}
	next, err := db.ReserveIDs(t.Context(), 1)
	if err != nil || next != start+26 {
		t.Fatalf("the counter hands out %d next (%v), want %d: NextN reserved more than it used", next, err, start+26)
	}
	if none, err := g.NextN(t.Context(), 0); err != nil || len(none) != 0 {
		t.Fatalf("NextN(0) = %v, %v", none, err)
	}
}
