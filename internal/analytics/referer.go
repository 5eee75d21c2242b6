package analytics

import "strings"

// InvalidReferer is the referrer host recorded for a Referer header that
// names no host: not an absolute URL, or a host with characters a host
// cannot have. Parentheses cannot appear in a host name, so it cannot be
// mistaken for one.
const InvalidReferer = "(invalid)"

// RefererHost returns the host a Referer header names, lower-cased, without
// userinfo, port, path, query or fragment: "" when ref is empty, and
// InvalidReferer when it names no host. truncated says that ref was cut
// short, in which case a host that runs to its end may be incomplete and
// counts as invalid.
func RefererHost(ref string, truncated bool) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ""
	}
	i := strings.Index(ref, "://")
	if i <= 0 || !validScheme(ref[:i]) {
		return InvalidReferer
	}
	auth := ref[i+3:]
	if j := strings.IndexAny(auth, "/?#"); j >= 0 {
		auth = auth[:j]
	} else if truncated {
		return InvalidReferer
	}
	if j := strings.LastIndexByte(auth, '@'); j >= 0 {
		auth = auth[j+1:]
	}
	host := auth
	if strings.HasPrefix(host, "[") {
		j := strings.IndexByte(host, ']')
		if j < 0 {
			return InvalidReferer
		}
		host = host[:j+1]
		for k := 1; k < len(host)-1; k++ {
			if c := host[k]; !isHex(c) && c != ':' && c != '.' {
				return InvalidReferer
			}
		}
		return strings.ToLower(host)
	}
	if j := strings.IndexByte(host, ':'); j >= 0 {
		host = host[:j]
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > 253 {
		return InvalidReferer
	}
	for k := 0; k < len(host); k++ {
		c := host[k]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return InvalidReferer
		}
	}
	return strings.ToLower(host)
}

func validScheme(s string) bool {
	for k := 0; k < len(s); k++ {
		c := s[k]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (k == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Language returns the first language tag of an Accept-Language header,
// lower-cased ("en-us"), or "" when there is none.
func Language(h string) string {
	if i := strings.IndexAny(h, ",;"); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSpace(h)
	if h == "" || h == "*" || len(h) > 12 {
		return ""
	}
	for k := 0; k < len(h); k++ {
		c := h[k]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return ""
		}
	}
	return strings.ToLower(h)
}
