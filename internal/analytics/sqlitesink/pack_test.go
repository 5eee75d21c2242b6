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
