package link

import (
	"errors"
	"fmt"
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
	MaxLength int // bytes, as stored; zero means DefaultMaxURLLength
	// SelfHosts are this service's hosts: links to them would loop. An
	// entry "host" matches the host on any port; "host:port" only on that
	// port (with 80 and 443 implied by the scheme), for services that share
	// a host name with others, such as localhost. Hosts are compared as
	// browsers read them, so every spelling of an entry matches it; and an
	// entry that is localhost or a loopback address stands for every
	// loopback spelling (127.1, [::1], 0.0.0.0, foo.localhost …) on its port.
	SelfHosts []string
	// ShortenerHosts are other URL shorteners' domains: a short link to a
	// short link hides where it goes, and two shorteners pointing at each
	// other redirect forever. An entry matches its subdomains too. Empty
	// refuses none; DefaultShortenerHosts is the usual setting.
	ShortenerHosts []string
}

// DefaultShortenerHosts returns the short domains of well-known public URL
// shorteners that redirect to any URL, for URLRules.ShortenerHosts. Domains
// that only ever lead to their owner's own site (youtu.be, amzn.to) are left
// out: they hide nothing.
func DefaultShortenerHosts() []string {
	return []string{
		"adf.ly", "bc.vc", "bit.do", "bit.ly", "buff.ly", "clck.ru", "cutt.ly",
		"dlvr.it", "gg.gg", "goo.gl", "ift.tt", "is.gd", "j.mp", "lnkd.in", "ouo.io",
		"ow.ly", "rb.gy", "rebrand.ly", "s.id", "shorte.st", "shorturl.at", "soo.gd", "t.co",
		"t.ly", "tiny.cc", "tiny.one", "tinyurl.com", "tr.im", "trib.al", "u.to", "urlz.fr",
		"v.gd", "vk.cc",
	}
}

// Validate reports every entry of SelfHosts and ShortenerHosts that is not a
// host (with an optional port, for SelfHosts). NormalizeURL skips such
// entries, so a service should refuse to start with them.
func (r URLRules) Validate() error {
	var errs []error
	for _, s := range r.SelfHosts {
		if _, err := parseSelfHost(s); err != nil {
			errs = append(errs, fmt.Errorf("self host %q: not a host or host:port", s))
		}
	}
	for _, s := range r.ShortenerHosts {
		if _, err := parseHost(s); err != nil {
			errs = append(errs, fmt.Errorf("shortener host %q: not a host name", s))
		}
	}
	return errors.Join(errs...)
}

// A Normalizer applies URLRules whose entries it has parsed once, for
// callers that check many URLs: NormalizeURL parses them on every call.
type Normalizer struct{ p urlPolicy }

// NewNormalizer parses the entries of r, skipping any that Validate reports.
func NewNormalizer(r URLRules) *Normalizer { return &Normalizer{p: r.policy()} }

// Normalize is NormalizeURL with n's rules.
func (n *Normalizer) Normalize(raw string) (string, error) { return n.p.normalize(raw) }

// urlPolicy is URLRules with every entry parsed.
type urlPolicy struct {
	max        int
	self       []selfHost
	shorteners []string // canonical, without a trailing dot
}

type selfHost struct {
	host host
	port string // "" matches any port; else the effective port, "80" included
}

func parseSelfHost(s string) (selfHost, error) {
	hostText, portText, err := splitAuthority(s)
	if err != nil {
		return selfHost{}, err
	}
	h, err := parseHost(hostText)
	if err != nil {
		return selfHost{}, err
	}
	if portText != "" {
		if _, err := parsePort(portText, "http"); err != nil {
			return selfHost{}, err
		}
		n, _ := strconv.Atoi(portText)
		portText = strconv.Itoa(n)
	}
	return selfHost{host: h, port: portText}, nil
}

func (r URLRules) policy() urlPolicy {
	p := urlPolicy{max: r.MaxLength}
	if p.max <= 0 {
		p.max = DefaultMaxURLLength
	}
	for _, s := range r.SelfHosts {
		if sh, err := parseSelfHost(s); err == nil {
			p.self = append(p.self, sh)
		}
	}
	for _, s := range r.ShortenerHosts {
		if h, err := parseHost(s); err == nil {
			p.shorteners = append(p.shorteners, strings.TrimSuffix(h.name, "."))
		}
	}
	return p
}

// NormalizeURL checks that raw is an absolute http or https URL a browser can
// follow, and returns it in the form that is stored and sent in Location:
//
//   - the scheme lower-cased;
//   - the host as browsers serialise it (see CanonicalHost): lower case,
//     punycode, numeric IPv4 spellings as dotted decimal, IPv6 compressed;
//   - the port without leading zeros, and left out when it is the scheme's
//     default;
//   - everything after the host kept byte for byte, except that non-ASCII
//     characters are percent-encoded as UTF-8, exactly as a browser encodes
//     them when it follows the link.
//
// Storing the canonical host, rather than only comparing canonically, is
// deliberate. The stored URL leads to the same place in every browser, since
// browsers canonicalise the host anyway; but other clients (curl, HTTP
// libraries, mail scanners) do not all read "0x7f.1" or "2130706433" as an
// address, and one that resolved the text some other way would go somewhere
// the checks never saw. Stored canonically, what the checks compared is
// what every client connects to, the preview and listings show the real
// destination instead of an obfuscated one, and blocklists can match it.
// Percent-encoding non-ASCII at create time likewise makes Location plain
// ASCII without any work on the redirect path.
//
// Failures are *Error values with Kind Invalid and Field "url".
func NormalizeURL(raw string, rules URLRules) (string, error) {
	return NewNormalizer(rules).Normalize(raw)
}

func (p *urlPolicy) normalize(raw string) (string, error) {
	switch {
	case raw == "":
		return "", invalid("url", "missing_url", "Give the URL to shorten.")
	case len(raw) > p.max:
		return "", tooLong(p.max)
	case !utf8.ValidString(raw):
		return "", invalid("url", "invalid_url", "The URL is not valid UTF-8 text.")
	}
	if err := checkCharacters(raw); err != nil {
		return "", err
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
	hostText, portText, err := splitAuthority(authority)
	if err != nil {
		return "", err
	}
	h, err := parseHost(hostText)
	if err != nil {
		return "", err
	}
	port, err := parsePort(portText, scheme)
	if err != nil {
		return "", err
	}
	if p.isSelf(h, port, scheme) {
		return "", invalid("url", "url_self_reference", "Links to this shortener's own domain would loop; give the destination URL instead.")
	}
	if d, ok := p.shortener(h); ok {
		return "", invalid("url", "url_is_short_link", "That URL is a short link on "+d+", another URL shortener; a chain of short links hides where it goes. Give the final destination URL instead.")
	}

	out := scheme + "://" + h.name
	if port != "" {
		out += ":" + port
	}
	out += percentEncodeNonASCII(tail)
	if len(out) > p.max {
		return "", tooLong(p.max)
	}
	if _, err := url.Parse(out); err != nil {
		return "", invalid("url", "invalid_url", "The URL is malformed; check its percent-encoding.")
	}
	return out, nil
}

func tooLong(max int) *Error {
	return invalid("url", "url_too_long", "The URL is longer than "+strconv.Itoa(max)+" bytes (counting non-ASCII characters percent-encoded).")
}

// checkCharacters refuses what a browser would strip or misread, and what
// would let a URL look like something it is not: spaces and controls, and
// invisible or text-direction characters (Unicode's Default_Ignorable_Code_Point
// and Bidi_Control properties) such as U+202E, which shows "moc.elpmaxe" as
// "example.com", or U+200B, which hides inside a word. Written
// percent-encoded they are visible for what they are, and allowed.
func checkCharacters(raw string) error {
	for _, r := range raw {
		switch {
		case r < utf8.RuneSelf:
			if r <= ' ' || r == 0x7f {
				return invalid("url", "invalid_url", "The URL contains spaces or control characters ("+codePoint(r)+"); percent-encode them.")
			}
		case r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r):
			return invalid("url", "invalid_url", "The URL contains spaces or control characters ("+codePoint(r)+"); percent-encode them.")
		case invisible(r):
			return invalid("url", "url_invisible_character", "The URL contains an invisible or text-direction control character ("+codePoint(r)+"), which can disguise where a link goes; remove it, or percent-encode it if it is really part of the URL.")
		}
	}
	return nil
}

func codePoint(r rune) string {
	s := strings.ToUpper(strconv.FormatInt(int64(r), 16))
	for len(s) < 4 {
		s = "0" + s
	}
	return "U+" + s
}

// invisible reports whether r is a Bidi_Control or Default_Ignorable_Code_Point
// character. Go's unicode package has no table for the latter, so it is
// derived as Unicode's DerivedCoreProperties.txt derives it: Other_DICP, Cf
// and Variation_Selector, less White_Space, the interlinear annotation
// characters, the Egyptian hieroglyph format controls and
// Prepended_Concatenation_Mark (format characters that are visible).
func invisible(r rune) bool {
	if unicode.Is(unicode.Bidi_Control, r) {
		return true
	}
	if !unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Cf, unicode.Variation_Selector) {
		return false
	}
	return !unicode.Is(unicode.White_Space, r) &&
		!(r >= 0xFFF9 && r <= 0xFFFB) &&
		!(r >= 0x13430 && r <= 0x1343F) &&
		!unicode.Is(unicode.Prepended_Concatenation_Mark, r)
}

// percentEncodeNonASCII writes every byte of s from 0x80 up as %XX, as
// browsers do in paths, queries and fragments of http(s) URLs.
func percentEncodeNonASCII(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return string(b)
}

// isSelf reports whether h on port (canonical: "" for the scheme's default)
// is one of this service's own hosts.
func (p *urlPolicy) isSelf(h host, port, scheme string) bool {
	if port == "" {
		port = defaultPort(scheme)
	}
	name := strings.TrimSuffix(h.name, ".")
	for _, s := range p.self {
		if s.port != "" && s.port != port {
			continue
		}
		if name == strings.TrimSuffix(s.host.name, ".") || s.host.loopback() && h.loopback() {
			return true
		}
	}
	return false
}

// shortener returns the entry of the shortener list that h is, or for a
// domain, is a subdomain of.
func (p *urlPolicy) shortener(h host) (string, bool) {
	name := strings.TrimSuffix(h.name, ".")
	sub := h.kind == domainHost
	for _, d := range p.shorteners {
		if name == d || sub && len(name) > len(d) && name[len(name)-len(d)-1] == '.' && name[len(name)-len(d):] == d {
			return d, true
		}
	}
	return "", false
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
