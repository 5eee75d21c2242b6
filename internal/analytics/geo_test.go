package analytics

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	geoip2 "github.com/oschwald/geoip2-golang/v2"
)

// The fixtures below have the record layouts of the free databases an
// operator is likely to point --geoip-db at:
//   - GeoLite2-Country: continent, country, registered_country (and, for
//     some networks, represented_country or only registered_country)
//   - GeoLite2-City: the same plus city, location, postal, subdivisions
//   - DBIP-Country-Lite: continent and country, no registered_country
//   - DBIP-City-Lite: continent, country, city, location, subdivisions

func names(en string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(en), "de": mmdbtype.String(en + " (de)")}
}

func country(iso, name string, eu bool) mmdbtype.Map {
	return mmdbtype.Map{
		"geoname_id":           mmdbtype.Uint32(len(name) * 1000),
		"iso_code":             mmdbtype.String(iso),
		"names":                names(name),
		"is_in_european_union": mmdbtype.Bool(eu),
	}
}

var continentEU = mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148), "names": names("Europe")}

// geoRecords are the networks every fixture holds, by database flavour.
func geoRecords(dbType string) map[string]mmdbtype.Map {
	de := country("DE", "Germany", true)
	fr := country("FR", "France", true)
	us := country("US", "United States", false)
	city := func(m mmdbtype.Map, name string) mmdbtype.Map {
		m["city"] = mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2950159), "names": names(name)}
		m["location"] = mmdbtype.Map{"latitude": mmdbtype.Float64(52.5), "longitude": mmdbtype.Float64(13.4), "time_zone": mmdbtype.String("Europe/Berlin"), "accuracy_radius": mmdbtype.Uint16(50)}
		m["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("BE"), "names": names("Land Berlin")}}
		if dbType == "GeoLite2-City" {
			m["postal"] = mmdbtype.Map{"code": mmdbtype.String("10115")}
		}
		return m
	}
	recs := map[string]mmdbtype.Map{
		"81.2.69.0/24":     {"continent": continentEU, "country": de},
		"2a02:2e0::/32":    {"continent": continentEU, "country": fr},
		"216.160.83.56/29": {"country": us},
	}
	if dbType == "GeoLite2-Country" || dbType == "GeoLite2-City" {
		recs["81.2.69.0/24"]["registered_country"] = de
		recs["2a02:2e0::/32"]["registered_country"] = fr
		// An anycast network: no country, only where it is registered.
		recs["1.1.1.0/24"] = mmdbtype.Map{"registered_country": country("AU", "Australia", false), "traits": mmdbtype.Map{"is_anycast": mmdbtype.Bool(true)}}
	}
	if dbType == "GeoLite2-City" || dbType == "DBIP-City-Lite" {
		recs["81.2.69.0/24"] = city(recs["81.2.69.0/24"], "Berlin")
	}
	return recs
}

// writeGeoDB builds a database of type dbType in dir and returns its path.
func writeGeoDB(t testing.TB, dir, dbType string) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range geoRecords(dbType) {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatalf("insert %s: %v", cidr, err)
		}
	}
	path := filepath.Join(dir, dbType+".mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGeoIPCountry(t *testing.T) {
	dir := t.TempDir()
	for _, dbType := range []string{"GeoLite2-Country", "GeoLite2-City", "DBIP-Country-Lite", "DBIP-City-Lite"} {
		t.Run(dbType, func(t *testing.T) {
			g, err := OpenGeoIP(writeGeoDB(t, dir, dbType))
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			if g.DatabaseType() != dbType {
				t.Errorf("DatabaseType = %q", g.DatabaseType())
			}
			want := map[string]string{
				"81.2.69.142":          "DE",
				"::ffff:81.2.69.1":     "DE",
				"2a02:2e0:3fe:1001::1": "FR",
				"216.160.83.57":        "US",
				"192.0.2.1":            "",
				"2001:db8::1":          "",
			}
			if dbType == "GeoLite2-Country" || dbType == "GeoLite2-City" {
				want["1.1.1.1"] = "AU" // registered country, for want of a country
			}
			for ip, w := range want {
				if got := g.Country(netip.MustParseAddr(ip)); got != w {
					t.Errorf("Country(%s) = %q, want %q", ip, got, w)
				}
			}
			if got := g.Country(netip.Addr{}); got != "" {
				t.Errorf("Country(invalid) = %q", got)
			}
		})
	}
}

func TestOpenGeoIPRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenGeoIP(writeGeoDB(t, dir, "GeoLite2-ASN")); err == nil {
		t.Error("an ASN database was accepted")
	}
	junk := filepath.Join(dir, "junk.mmdb")
	os.WriteFile(junk, []byte("not a database"), 0o600)
	if _, err := OpenGeoIP(junk); err == nil {
		t.Error("a file that is no database was accepted")
	}
	if _, err := OpenGeoIP(filepath.Join(dir, "missing.mmdb")); err == nil {
		t.Error("a missing file was accepted")
	}
}

// BenchmarkGeoIP compares our lookup, which caches countries by record
// offset, with geoip2.Reader.Country, which decodes the whole record each
// time, and with the bare tree walk, on a City database.
func BenchmarkGeoIP(b *testing.B) {
	path := writeGeoDB(b, b.TempDir(), "GeoLite2-City")
	addrs := []netip.Addr{netip.MustParseAddr("81.2.69.142"), netip.MustParseAddr("2a02:2e0:3fe:1001::1"), netip.MustParseAddr("216.160.83.57"), netip.MustParseAddr("192.0.2.1")}
	b.Run("cached", func(b *testing.B) {
		g, err := OpenGeoIP(path)
		if err != nil {
			b.Fatal(err)
		}
		defer g.Close()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			g.Country(addrs[i%len(addrs)])
		}
	})
	b.Run("lookup-only", func(b *testing.B) {
		g, err := OpenGeoIP(path)
		if err != nil {
			b.Fatal(err)
		}
		defer g.Close()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			g.db.Lookup(addrs[i%len(addrs)]).Offset()
		}
	})
	b.Run("geoip2-country", func(b *testing.B) {
		r, err := geoip2.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			c, err := r.Country(addrs[i%len(addrs)])
			if err == nil && c.Country.ISOCode == "" {
				_ = c.RegisteredCountry.ISOCode
			}
		}
	})
}
