package ratelimit

import "net/netip"

// DefaultIPv6Prefix is how many leading bits of an IPv6 address name one
// client: a /64 is what a single home or phone is usually given, and any
// address in it is the holder's to use.
const DefaultIPv6Prefix = 64

// ClientKey is the key whose budget a client address spends. An IPv4
// address is a client of its own. An IPv6 client is its prefix of v6Bits
// bits (DefaultIPv6Prefix when v6Bits is not from 1 to 128): a host holds a
// whole /64, and picking a fresh address from it for each request must not
// buy a fresh budget. An IPv4-mapped IPv6 address is the IPv4 address.
func ClientKey(a netip.Addr, v6Bits int) string {
	a = a.Unmap()
	if !a.Is6() {
		return a.String()
	}
	if v6Bits < 1 || v6Bits > 128 {
		v6Bits = DefaultIPv6Prefix
	}
	p, _ := a.WithZone("").Prefix(v6Bits)
	return p.String()
}
