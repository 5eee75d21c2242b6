package edge_test

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/shortlinks/shortlinks/internal/edge"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer", "192.0.2.1:5000", []string{"198.51.100.7"}, "192.0.2.1"},
		{"trusted peer, no header", "127.0.0.1:5000", nil, "127.0.0.1"},
		{"trusted peer, one hop", "127.0.0.1:5000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"nearest untrusted hop", "127.0.0.1:5000", []string{"203.0.113.9, 198.51.100.7, 10.1.2.3"}, "198.51.100.7"},
		{"hops over several header lines", "127.0.0.1:5000", []string{"203.0.113.9", "10.0.0.5,10.1.2.3"}, "203.0.113.9"},
		{"every hop trusted", "127.0.0.1:5000", []string{"10.0.0.5, 10.1.2.3"}, "10.0.0.5"},
		{"unreadable hop", "127.0.0.1:5000", []string{"203.0.113.9, junk, 10.1.2.3"}, "10.1.2.3"},
		{"empty header", "127.0.0.1:5000", []string{""}, "127.0.0.1"},
		{"mapped IPv4", "[::ffff:127.0.0.1]:5000", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{"IPv6 hop", "127.0.0.1:5000", []string{"2001:db8::1"}, "2001:db8::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			if tc.xff != nil {
				r.Header["X-Forwarded-For"] = tc.xff
			}
			if got := edge.ClientIP(r, trusted); got.String() != tc.want {
				t.Errorf("ClientIP = %v, want %s", got, tc.want)
			}
		})
	}
}

// Every recorded click reads the client's address: behind a proxy, that
// must not allocate.
func TestClientIPAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:5000"
	r.Header["X-Forwarded-For"] = []string{"203.0.113.9, 198.51.100.7"}
	if n := testing.AllocsPerRun(200, func() { edge.ClientIP(r, trusted) }); n != 0 {
		t.Errorf("ClientIP allocates %v times, want 0", n)
	}
}
