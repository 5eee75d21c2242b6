package edge

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP is the address of the client: the peer, or, when the peer is a
// trusted proxy (Options.TrustedProxies), the nearest untrusted address in
// X-Forwarded-For.
func (e *Edge) ClientIP(r *http.Request) netip.Addr { return ClientIP(r, e.trusted) }

// ClientIP is the address of the client of r: the peer, or, when the peer
// is in trusted, the nearest address in X-Forwarded-For that is not.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !isTrusted(trusted, peer) {
		return peer
	}
	// The hops are read from the right, value by value, without joining
	// or splitting them: this runs for every recorded click.
	vals := r.Header["X-Forwarded-For"]
	for i := len(vals) - 1; i >= 0; i-- {
		v := vals[i]
		for {
			j := strings.LastIndexByte(v, ',')
			a, err := netip.ParseAddr(strings.TrimSpace(v[j+1:]))
			if err != nil {
				return peer // a hop we cannot read: trust nothing before it
			}
			a = a.Unmap()
			if !isTrusted(trusted, a) {
				return a
			}
			peer = a
			if j < 0 {
				break
			}
			v = v[:j]
		}
	}
	return peer
}

func isTrusted(trusted []netip.Prefix, a netip.Addr) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
