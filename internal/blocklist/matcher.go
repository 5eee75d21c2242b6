// Package blocklist refuses destinations that lists of bad domains and URLs
// name. It reads lists in the formats they are published in (one domain per
// line, hosts files, URLhaus-style CSV, plain URL lists), matches a URL by
// its host and every parent domain and by the exact URL, and reloads the
// lists when their files change, telling the caller which entries are new so
// that existing links they cover can be dealt with.
package blocklist

import (
	"hash/maphash"
	"strconv"
	"strings"
)

// Kind says what an entry names.
type Kind uint8

// The kinds of entry.
const (
	Host Kind = iota + 1 // a domain and its subdomains, or an IP address
	URL                  // one URL
)

// A Match is the entry that a URL matched.
type Match struct {
	List  string // the name of the list
	Kind  Kind
	Entry string // the listed host (the URL's host or a parent domain), or the URL
}

// String says why a URL is blocked, in words for the person who gave it.
func (m Match) String() string {
	if m.Kind == URL {
		return "the URL is on the blocklist " + strconv.Quote(m.List)
	}
	return m.Entry + " is on the blocklist " + strconv.Quote(m.List)
}

// A Matcher is an immutable set of entries from one or more lists.
//
// Entries are kept as 64-bit hashes of their text with a per-process random
// seed, not as strings: a million entries take less than half the memory of
// a map keyed by their text (38 bytes an entry against 80; see
// BenchmarkMatcherMemory), and matching a URL costs one map lookup per label
// of its host. Two different entries collide with probability 2⁻⁶⁴ per
// pair; with a million entries and a few lookups per URL, a false match is
// about as likely as a cosmic-ray bit flip, and because the seed is secret
// and changes with each process, nobody can aim for one. A Match reports the
// text it looked up, so nothing needs the entry's own text.
type Matcher struct {
	seed  maphash.Seed
	names []string          // list names, by bit
	hosts map[uint64]uint64 // hash of a host → bit set of the lists that name it
	urls  map[uint64]uint64 // hash of a URL key → bit set of lists
}

func newMatcher(seed maphash.Seed, names []string, hosts, urls int) *Matcher {
	return &Matcher{seed: seed, names: names, hosts: make(map[uint64]uint64, hosts), urls: make(map[uint64]uint64, urls)}
}

// Len returns the number of distinct entries.
func (m *Matcher) Len() int { return len(m.hosts) + len(m.urls) }

// Match reports whether u, a URL in the form link.NormalizeURL returns, is
// named by an entry: its host or one of its parent domains, or the URL
// itself (compared without its scheme and fragment, which do not change
// what the server sends). An IP address matches only itself.
func (m *Matcher) Match(u string) (Match, bool) {
	host, key, ok := splitURL(u)
	if !ok {
		return Match{}, false
	}
	if len(m.hosts) > 0 {
		ip := isIP(host)
		for h := host; ; {
			if bits := m.hosts[maphash.String(m.seed, h)]; bits != 0 {
				return Match{List: m.name(bits), Kind: Host, Entry: h}, true
			}
			i := strings.IndexByte(h, '.')
			if ip || i < 0 {
				break
			}
			h = h[i+1:]
		}
	}
	if len(m.urls) > 0 {
		if bits := m.urls[maphash.String(m.seed, key)]; bits != 0 {
			return Match{List: m.name(bits), Kind: URL, Entry: u}, true
		}
	}
	return Match{}, false
}

// name returns the name of the first list in bits.
func (m *Matcher) name(bits uint64) string {
	for i := range m.names {
		if bits&(1<<i) != 0 {
			return m.names[i]
		}
	}
	return ""
}

// splitURL returns the host of a normalised URL (without a port or trailing
// dot) and its key for URL entries: the URL after "scheme://", with the
// host's trailing dot and the fragment removed and an empty path written
// "/", since "http://h" and "http://h/" are the same request.
func splitURL(u string) (host, key string, ok bool) {
	i := strings.Index(u, "://")
	if i < 0 {
		return "", "", false
	}
	rest := u[i+3:]
	if j := strings.IndexByte(rest, '#'); j >= 0 {
		rest = rest[:j]
	}
	end := len(rest)
	for k := 0; k < len(rest); k++ {
		if rest[k] == '/' || rest[k] == '?' {
			end = k
			break
		}
	}
	authority, tail := rest[:end], rest[end:]
	host = authority
	port := ""
	if strings.HasPrefix(authority, "[") {
		if k := strings.IndexByte(authority, ']'); k >= 0 {
			host, port = authority[:k+1], authority[k+1:]
		}
	} else if k := strings.IndexByte(authority, ':'); k >= 0 {
		host, port = authority[:k], authority[k:]
	}
	if host == "" || host == "." {
		return "", "", false
	}
	// The usual URL needs no new string: its key is the text after "://".
	if host[len(host)-1] != '.' && strings.HasPrefix(tail, "/") {
		return host, rest, true
	}
	host = strings.TrimSuffix(host, ".")
	if !strings.HasPrefix(tail, "/") {
		tail = "/" + tail
	}
	return host, host + port + tail, true
}

// isIP reports whether a canonical host is an address: bracketed IPv6, or
// IPv4, whose last label is a number (no domain's is, once canonical).
func isIP(host string) bool {
	if strings.HasPrefix(host, "[") {
		return true
	}
	last := host[strings.LastIndexByte(host, '.')+1:]
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return last != ""
}
