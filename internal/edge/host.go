package edge

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Host is the host the client asked for: the request's Host, or, when the
// peer is a trusted proxy (Options.TrustedProxies), the first value of
// X-Forwarded-Host that it sent. An untrusted peer's X-Forwarded-Host is
// ignored: anyone could send one.
func (e *Edge) Host(r *http.Request) string { return Host(r, e.trusted) }

// Host is the host the client of r asked for: r.Host, or the first
// X-Forwarded-Host value when the peer is in trusted. It reads the header
// only when there is one, and allocates nothing.
func Host(r *http.Request, trusted []netip.Prefix) string {
	fwd := r.Header["X-Forwarded-Host"]
	if len(fwd) == 0 || len(trusted) == 0 {
		return r.Host
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(trusted, peer.Unmap()) {
		return r.Host
	}
	v, _, _ := strings.Cut(fwd[0], ",")
	if v = strings.TrimSpace(v); v == "" {
		return r.Host
	}
	return v
}
