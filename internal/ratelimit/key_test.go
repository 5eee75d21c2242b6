package ratelimit_test

import (
	"net/netip"
	"testing"

	"github.com/shortlinks/shortlinks/internal/ratelimit"
)

func TestClientKey(t *testing.T) {
	tests := []struct {
		addr string
		bits int
		want string
	}{
		{"192.0.2.7", 64, "192.0.2.7"},
		{"::ffff:192.0.2.7", 64, "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::/48"},
		{"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"},
		{"2001:db8:1:2:3:4:5:6", 0, "2001:db8:1:2::/64"},
		{"fe80::1%eth0", 64, "fe80::/64"},
	}
	for _, tt := range tests {
		if got := ratelimit.ClientKey(netip.MustParseAddr(tt.addr), tt.bits); got != tt.want {
			t.Errorf("ClientKey(%s, %d) = %s, want %s", tt.addr, tt.bits, got, tt.want)
		}
	}
	if a, b := ratelimit.ClientKey(netip.MustParseAddr("2001:db8:1:2::1"), 64), ratelimit.ClientKey(netip.MustParseAddr("2001:db8:1:3::1"), 64); a == b {
		t.Errorf("neighbouring /64s share the key %s", a)
	}
}
