package sqlitesink

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/shortlinks/shortlinks/internal/analytics"
)

// FuzzDecodePack feeds decodePack stored bytes of any shape: it must
// return an error or visits, never panic, and what it returns must encode
// and decode to the same visits.
func FuzzDecodePack(f *testing.F) {
	f.Add(appendPack(nil, []analytics.Visit{
		{At: 1_700_000_000_123_456_000, Bot: true, UA: -42, Addr: netip.MustParseAddr("198.51.100.0"), Country: "DE", Language: "de", Referrer: "example.com"},
		{At: 1_700_000_000_000_000_000, Addr: netip.MustParseAddr("2001:db8::")},
		{At: 1_700_000_001_000_000_000},
	}))
	f.Add([]byte{packVersion, 0})
	f.Add([]byte{packVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		vs, err := decodePack(nil, 9, b)
		if err != nil {
			return
		}
		again, err := decodePack(nil, 9, appendPack(nil, vs))
		if err != nil {
			t.Fatalf("re-encoded pack does not decode: %v", err)
		}
		if len(vs) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(vs, again) {
			t.Fatalf("visits changed through a round trip:\n%+v\n%+v", vs, again)
		}
	})
}

// TestPackRows checks that a row of many links' packs gives each link its
// pack and previous row, and no pack to a link it does not hold.
func TestPackRows(t *testing.T) {
	packs := map[int64][]byte{}
	b := appendPacksHeader(nil, 3)
	after := int64(0)
	for i, link := range []int64{3, 40, 41} {
		packs[link] = appendPack(nil, []analytics.Visit{{At: int64(i+1) * 1e9, Country: "DE"}})
		b = appendPackEntry(b, after, link, link*10, packs[link])
		after = link
	}
	for link, want := range packs {
		got, prev, ok, err := findPack(b, link)
		if err != nil || !ok || prev != link*10 || !reflect.DeepEqual(got, want) {
			t.Fatalf("link %d: pack %x, prev %d, %v, %v; want %x, prev %d", link, got, prev, ok, err, want, link*10)
		}
	}
	for _, link := range []int64{1, 4, 42} {
		if _, _, ok, err := findPack(b, link); ok || err != nil {
			t.Fatalf("link %d, not in the row: found %v, %v", link, ok, err)
		}
	}
	if _, _, _, err := findPack(packs[3], 3); err == nil {
		t.Fatal("a version 1 pack read as a row of packs")
	}
}

// FuzzFindPack feeds findPack stored bytes of any shape: it must return an
// error or a pack that lies within them, never panic.
func FuzzFindPack(f *testing.F) {
	one := appendPack(nil, []analytics.Visit{{At: 1_700_000_000_000_000_000, Referrer: "example.com"}})
	row := appendPackEntry(appendPackEntry(appendPacksHeader(nil, 2), 0, 9, 4, one), 9, 12, 0, one)
	f.Add(row, int64(9))
	f.Add(row, int64(12))
	f.Add([]byte{packsVersion, 0xff, 0xff, 0xff, 0xff, 0x0f}, int64(1))
	f.Fuzz(func(t *testing.T, b []byte, link int64) {
		pack, prev, ok, err := findPack(b, link)
		if err != nil || !ok {
			return
		}
		if prev < 0 || len(pack) > len(b) {
			t.Fatalf("found a pack of %d bytes in %d, previous row %d", len(pack), len(b), prev)
		}
	})
}
