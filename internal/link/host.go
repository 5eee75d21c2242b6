package link

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Hosts are read the way browsers read them. Browsers follow the WHATWG URL
// standard's host parser, which takes many more spellings of an address than
// DNS does: 2130706433, 0x7f.1, 0177.0.0.1 and 127.1 are all 127.0.0.1,
// [0:0:0:0:0:0:0:1] is [::1], and "ｌｏｃａｌｈｏｓｔ" and "%6Cocalhost" are
// localhost. Comparing the text of hosts, as a check of "is this our own
// domain?" naively does, lets every other spelling through. parseHost turns
// any spelling into the one serialisation the standard defines, so that the
// self-link check, the list of other shorteners and the blocklists compare
// what the browser will actually connect to.
//
// Where the standard accepts a host that DNS cannot carry (a label with "*",
// an empty label, a hyphen at either end), parseHost refuses it: refusing
// more than a browser is safe, reading a host differently from a browser is
// not.

type hostKind uint8

const (
	domainHost hostKind = iota + 1
	ipv4Host
	ipv6Host
)

// host is a parsed URL host: its canonical text and, for an IP address, the
// address.
type host struct {
	name string // lower-case ASCII domain, dotted-decimal IPv4, or [IPv6]
	kind hostKind
	addr netip.Addr // valid for ipv4Host and ipv6Host
}

var errBadHost = invalid("url", "invalid_url", "The URL has no valid host name.")

// CanonicalHost parses the host of an http or https URL as a browser does and
// returns the one spelling that browsers serialise it to: a lower-case ASCII
// domain with international labels in punycode (a trailing dot is kept, as
// browsers keep it), a dotted-decimal IPv4 address (whatever the spelling:
// "0x7f.1" is "127.0.0.1"), or a compressed IPv6 address in brackets
// ("[0:0:0:0:0:0:0:1]" is "[::1]"). Percent-encoded hosts are decoded first.
// A host a browser would refuse, or that DNS cannot carry, is an *Error of
// Kind Invalid.
//
// Other packages use it to bring list entries (blocklists, other shorteners'
// domains) into the same form as the hosts NormalizeURL stores.
func CanonicalHost(s string) (string, error) {
	h, err := parseHost(s)
	return h.name, err
}

// parseHost implements the standard's host parser for special schemes, then
// the DNS rules above for domains.
func parseHost(s string) (host, error) {
	if s == "" {
		return host{}, errBadHost
	}
	if s[0] == '[' {
		if len(s) < 2 || s[len(s)-1] != ']' {
			return host{}, errBadHost
		}
		a, ok := parseIPv6(s[1 : len(s)-1])
		if !ok {
			return host{}, errBadHost
		}
		return host{name: "[" + formatIPv6(a) + "]", kind: ipv6Host, addr: a}, nil
	}
	decoded, ok := percentDecode(s)
	if !ok {
		return host{}, errBadHost
	}
	// UTS 46 mapping: case folding, width folding ("１２７" is "127",
	// "。" is "."), ignored code points dropped, then punycode.
	ascii, err := hostProfile.ToASCII(decoded)
	if err != nil || ascii == "" {
		return host{}, errBadHost
	}
	// The standard checks for forbidden code points here; the IPv4 parser
	// below accepts only digits, letters of hex numbers and dots, and
	// dnsName accepts only DNS characters, so both refuse them anyway.
	if endsInNumber(ascii) {
		v, ok := parseIPv4(ascii)
		if !ok {
			return host{}, errBadHost
		}
		a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		return host{name: a.String(), kind: ipv4Host, addr: a}, nil
	}
	if !dnsName(ascii) {
		return host{}, errBadHost
	}
	return host{name: ascii, kind: domainHost}, nil
}

// percentDecode decodes %XX escapes and reports whether s had only
// well-formed ones and decodes to valid UTF-8. The standard keeps a stray '%'
// and then refuses it as a forbidden code point, and turns bad UTF-8 into
// U+FFFD, which IDNA refuses: both end in failure, as here.
func percentDecode(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, utf8.ValidString(s)
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", false
		}
		b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
		i += 2
	}
	if !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// endsInNumber reports whether the last label of s (ignoring one trailing
// dot) is a number, which makes the whole host an IPv4 address or invalid:
// "example.123" is not a domain to a browser.
func endsInNumber(s string) bool {
	s = strings.TrimSuffix(s, ".")
	last := s[strings.LastIndexByte(s, '.')+1:]
	if last == "" {
		return false
	}
	if strings.Trim(last, "0123456789") == "" {
		return true
	}
	_, ok := parseIPv4Number(last)
	return ok
}

// parseIPv4 reads one to four numbers separated by dots, each decimal, octal
// (leading 0) or hex (leading 0x); the last number fills the remaining bytes,
// so "127.1" is 127.0.0.1 and "2130706433" is too.
func parseIPv4(s string) (uint32, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) > 4 {
		return 0, false
	}
	var nums [4]uint64
	for i, p := range parts {
		n, ok := parseIPv4Number(p)
		if !ok {
			return 0, false
		}
		nums[i] = n
	}
	last := len(parts) - 1
	for _, n := range nums[:last] {
		if n > 255 {
			return 0, false
		}
	}
	if nums[last] >= 1<<(8*(5-len(parts))) {
		return 0, false
	}
	v := nums[last]
	for i, n := range nums[:last] {
		v += n << (8 * (3 - i))
	}
	return uint32(v), true
}

// parseIPv4Number reads one part of an IPv4 address. Values past 2³² are
// clamped there: every caller refuses them.
func parseIPv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := uint64(10)
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, s = 16, s[2:]
	case len(s) >= 2 && s[0] == '0':
		base, s = 8, s[1:]
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case base == 16 && isHex(c):
			d = uint64(unhex(c))
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		n = min(n*base+d, 1<<32)
	}
	return n, true
}

// parseIPv6 reads the text between the brackets. Zones ("%eth0") are not
// part of URLs, and an IPv4 address alone is not an IPv6 one.
func parseIPv6(s string) (netip.Addr, bool) {
	if !strings.Contains(s, ":") || strings.Contains(s, "%") {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return netip.Addr{}, false
	}
	return a, true
}

// formatIPv6 writes a as the standard serialises it: lower-case hex pieces
// without leading zeros, the first longest run of two or more zero pieces
// as "::", and never an embedded IPv4 address ("::ffff:127.0.0.1" is
// "::ffff:7f00:1").
func formatIPv6(a netip.Addr) string {
	b := a.As16()
	var pieces [8]uint16
	for i := range pieces {
		pieces[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	start, length := -1, 1
	for i := 0; i < 8; {
		if pieces[i] != 0 {
			i++
			continue
		}
		j := i
		for j < 8 && pieces[j] == 0 {
			j++
		}
		if j-i > length {
			start, length = i, j-i
		}
		i = j
	}
	out := make([]byte, 0, 39)
	for i := 0; i < 8; i++ {
		if i == start {
			out = append(out, "::"...)
			i += length - 1
			continue
		}
		if i > 0 && i != start+length {
			out = append(out, ':')
		}
		out = strconv.AppendUint(out, uint64(pieces[i]), 16)
	}
	return string(out)
}

// loopback reports whether h names the machine that runs the browser: any
// spelling of localhost (browsers resolve every *.localhost name to the
// loopback address without asking DNS), a loopback address, or the
// unspecified address, which connects to the local machine.
func (h host) loopback() bool {
	switch h.kind {
	case domainHost:
		d := strings.TrimSuffix(h.name, ".")
		return d == "localhost" || strings.HasSuffix(d, ".localhost")
	case ipv4Host, ipv6Host:
		a := h.addr.Unmap()
		return a.IsLoopback() || a.IsUnspecified()
	}
	return false
}

// parsePort reads a port as browsers do: ASCII digits, leading zeros
// allowed. It returns the port without leading zeros, or "" when there is
// none or it is the scheme's default, which browsers leave out. Port 0 is
// refused: nothing can be reached there.
func parsePort(s, scheme string) (string, error) {
	if s == "" {
		return "", nil
	}
	bad := invalid("url", "invalid_url", "The URL's port must be a number from 1 to 65535.")
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", bad
		}
		n = n*10 + int(s[i]-'0')
		if n > 65535 {
			return "", bad
		}
	}
	if n == 0 {
		return "", bad
	}
	p := strconv.Itoa(n)
	if p == defaultPort(scheme) {
		return "", nil
	}
	return p, nil
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// splitAuthority splits an authority (without userinfo) into its host and
// port texts, as the standard does: the port starts at the first colon that
// is not inside brackets.
func splitAuthority(authority string) (hostText, portText string, err error) {
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", "", errBadHost
		}
		hostText, rest := authority[:end+1], authority[end+1:]
		if rest == "" {
			return hostText, "", nil
		}
		if rest[0] != ':' {
			return "", "", errBadHost
		}
		return hostText, rest[1:], nil
	}
	hostText, portText, _ = strings.Cut(authority, ":")
	return hostText, portText, nil
}
