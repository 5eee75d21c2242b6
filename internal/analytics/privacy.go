package analytics

import "net/netip"

// Anonymize returns a with its host part zeroed: the last octet of an IPv4
// address (a /24), the last 80 bits of an IPv6 address (a /48). The raw
// address is never stored; only this is.
func Anonymize(a netip.Addr) netip.Addr {
	a = a.Unmap()
	switch {
	case a.Is4():
		b := a.As4()
		b[3] = 0
		return netip.AddrFrom4(b)
	case a.Is6():
		b := a.As16()
		clear(b[6:])
		return netip.AddrFrom16(b)
	}
	return netip.Addr{}
}
