package analytics

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
)

// GeoIP finds the country of an address in a MaxMind-format database:
// GeoLite2 or GeoIP2 Country or City, or DB-IP's Country or City (Lite or
// not). All of them hold country.iso_code; some networks (anycast, some
// satellite and VPN ranges) have only registered_country, which is used
// then.
//
// A lookup walks the database's search tree to the network's data record
// and decodes the country from it. Decoding is most of the cost, and a
// country database has only a few thousand distinct records (one per
// country, registered country and continent combination), so countries are
// cached by record offset: after warm-up a lookup is the tree walk alone.
type GeoIP struct {
	db *maxminddb.Reader

	mu        sync.RWMutex
	byOffset  map[uintptr]string
	maxCached int
}

// OpenGeoIP opens the database at path. It fails for a file that is not a
// MaxMind-format database or holds no countries (an ASN or ISP database).
func OpenGeoIP(path string) (*GeoIP, error) {
	db, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("analytics: open GeoIP database %s: %w", path, err)
	}
	t := db.Metadata.DatabaseType
	if !strings.Contains(t, "Country") && !strings.Contains(t, "City") && !strings.Contains(t, "Enterprise") {
		db.Close()
		return nil, fmt.Errorf("analytics: GeoIP database %s is of type %q, which has no countries; use a Country or City database", path, t)
	}
	return &GeoIP{db: db, byOffset: make(map[uintptr]string), maxCached: 100_000}, nil
}

// DatabaseType returns the database's type, such as "GeoLite2-Country".
func (g *GeoIP) DatabaseType() string { return g.db.Metadata.DatabaseType }

// Close releases the database.
func (g *GeoIP) Close() error { return g.db.Close() }

// Country returns the ISO 3166-1 alpha-2 code of the country a is in, or ""
// when the database does not know.
//
// It is safe for concurrent use.
func (g *GeoIP) Country(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	res := g.db.Lookup(a.Unmap())
	if !res.Found() {
		return ""
	}
	off := res.Offset()
	g.mu.RLock()
	iso, ok := g.byOffset[off]
	g.mu.RUnlock()
	if ok {
		return iso
	}
	iso = decodeCountry(res)
	g.mu.Lock()
	if len(g.byOffset) >= g.maxCached {
		clear(g.byOffset) // a City database can have more records than is worth holding
	}
	g.byOffset[off] = iso
	g.mu.Unlock()
	return iso
}

func decodeCountry(res maxminddb.Result) string {
	var iso string
	if err := res.DecodePath(&iso, "country", "iso_code"); err != nil || iso == "" {
		iso = ""
		if err := res.DecodePath(&iso, "registered_country", "iso_code"); err != nil {
			return ""
		}
	}
	if len(iso) != 2 || !isUpper(iso[0]) || !isUpper(iso[1]) {
		return ""
	}
	return iso
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
