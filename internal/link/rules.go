package link

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// DefaultMaxURLLength is the longest destination URL accepted, in bytes.
const DefaultMaxURLLength = 8192

// Alias length limits, in characters.
const (
	MinAliasLength = 3
	MaxAliasLength = 64
)

// hostProfile maps and validates host names for lookup, as browsers do,
// but allows the underscores that real DNS names sometimes carry.
var hostProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.StrictDomainName(false))

// URLRules are the settings NormalizeURL applies.
type URLRules struct {
	MaxLength int // bytes; zero means DefaultMaxURLLength
	// SelfHosts are this service's hosts: links to them would loop. An
	// entry "host" matches the host on any port; "host:port" only on that
	// port (with 80 and 443 implied by the scheme), for services that share
	// a host name with others, such as localhost.
	SelfHosts []string
}

// NormalizeURL checks that raw is an absolute http or https URL a browser can
// follow and returns it with the scheme and host lower-cased and an
// internationalised host in punycode. Everything after the host is kept
// exactly as given. Failures are *Error values with Kind Invalid.
func NormalizeURL(raw string, rules URLRules) (string, error) {
	max := rules.MaxLength
	if max <= 0 {
		max = DefaultMaxURLLength
	}
	switch {
	case raw == "":
		return "", invalid("url", "missing_url", "Give the URL to shorten.")
	case len(raw) > max:
		return "", invalid("url", "url_too_long", "The URL is longer than "+strconv.Itoa(max)+" bytes.")
	case !utf8.ValidString(raw):
		return "", invalid("url", "invalid_url", "The URL is not valid UTF-8 text.")
	}
	for _, r := range raw {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			return "", invalid("url", "invalid_url", "The URL contains spaces or control characters; percent-encode them.")
		}
	}

	scheme, rest, ok := strings.Cut(raw, ":")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "http" && scheme != "https") {
		return "", invalid("url", "url_scheme_not_allowed", "Only http and https URLs can be shortened.")
	}
	if !strings.HasPrefix(rest, "//") {
		return "", invalid("url", "invalid_url", "The URL must be absolute, like https://example.com/page.")
	}
	rest = rest[2:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if strings.Contains(authority, "@") {
		return "", invalid("url", "url_has_credentials", "URLs with a user name or password cannot be shortened.")
	}
	host, port, err := splitHostPort(authority)
	if err != nil {
		return "", err
	}
	if isSelf(scheme, host, port, rules.SelfHosts) {
		return "", invalid("url", "url_self_reference", "Links to this shortener's own domain would loop; give the destination URL instead.")
	}

	out := scheme + "://" + hostPort(host, port) + tail
	if _, err := url.Parse(out); err != nil {
		return "", invalid("url", "invalid_url", "The URL is malformed; check its percent-encoding.")
	}
	return out, nil
}

func isSelf(scheme, host, port string, selves []string) bool {
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	host = strings.TrimSuffix(host, ".")
	for _, self := range selves {
		selfHost, selfPort := self, ""
		if h, p, err := net.SplitHostPort(self); err == nil {
			selfHost, selfPort = h, p
		}
		if strings.EqualFold(host, strings.TrimSuffix(selfHost, ".")) && (selfPort == "" || selfPort == port) {
			return true
		}
	}
	return false
}

// splitHostPort returns the lower-cased ASCII host of authority and its port.
func splitHostPort(authority string) (host, port string, err error) {
	badHost := invalid("url", "invalid_url", "The URL has no valid host name.")
	ipv6 := strings.HasPrefix(authority, "[")
	if ipv6 {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", "", badHost
		}
		host, port = authority[1:end], authority[end+1:]
		if port != "" && port[0] != ':' {
			return "", "", badHost
		}
		port = strings.TrimPrefix(port, ":")
		if !strings.Contains(host, ":") || net.ParseIP(host) == nil {
			return "", "", badHost
		}
		host = strings.ToLower(host)
	} else {
		host = authority
		if i := strings.LastIndexByte(authority, ':'); i >= 0 {
			host, port = authority[:i], authority[i+1:]
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '+' {
			return "", "", invalid("url", "invalid_url", "The URL's port must be a number from 1 to 65535.")
		}
	}
	if ipv6 {
		return host, port, nil
	}
	if host == "" {
		return "", "", badHost
	}
	ascii, err := hostProfile.ToASCII(host)
	if err != nil || !dnsName(ascii) {
		return "", "", badHost
	}
	return strings.ToLower(ascii), port, nil
}

// dnsName reports whether s is a host name DNS can carry: labels of 1 to 63
// letters, digits, hyphens or underscores, 253 bytes in all, and an optional
// trailing dot.
func dnsName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			if !aliasByte(label[i]) {
				return false
			}
		}
	}
	return true
}

func hostPort(host, port string) string {
	if strings.Contains(host, ":") { // IPv6
		host = "[" + host + "]"
	}
	if port == "" {
		return host
	}
	return host + ":" + port
}

// ValidCode reports whether c could be a code or alias at all. The redirect
// path uses it to answer 404 without touching storage.
func ValidCode(c Code) bool {
	if len(c) < MinAliasLength || len(c) > MaxAliasLength {
		return false
	}
	for i := 0; i < len(c); i++ {
		if !aliasByte(c[i]) {
			return false
		}
	}
	return true
}

func aliasByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_'
}

// ValidateAlias checks a custom alias: 3 to 64 characters of A-Z, a-z, 0-9,
// '-' and '_', and none of the reserved names, compared without case.
func ValidateAlias(a Code, reserved []string) error {
	if !ValidCode(a) {
		return invalid("alias", "invalid_alias", "An alias is 3 to 64 characters of letters, digits, '-' and '_'.")
	}
	for _, r := range reserved {
		if strings.EqualFold(string(a), r) {
			return invalid("alias", "alias_reserved", "That alias is reserved by the service; choose another one.")
		}
	}
	return nil
}
