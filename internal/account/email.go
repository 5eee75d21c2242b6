package account

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// Limits on an address: RFC 5321's for the local part, and the longest
// address that fits a forward path.
const (
	maxLocal = 64
	maxEmail = 254
)

// NormalizeEmail returns the one spelling of an email address that users
// are stored and found by, or ErrInvalidEmail. Surrounding space is
// dropped; the local part must be an unquoted dot-atom of ASCII, the
// domain a host name (IDNA, stored as its ASCII form). The whole address
// is lower-cased: every mail provider in practice ignores case in the
// local part, and a user who types Alice@ rather than alice@ must still
// find their account.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimFunc(s, unicode.IsSpace)
	if len(s) > 4*maxEmail {
		return "", ErrInvalidEmail
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", ErrInvalidEmail
	}
	local, domain := s[:at], s[at+1:]
	if !dotAtom(local) {
		return "", ErrInvalidEmail
	}
	domain, ok := normalizeHost(domain)
	if !ok {
		return "", ErrInvalidEmail
	}
	out := strings.ToLower(local) + "@" + domain
	if len(out) > maxEmail {
		return "", ErrInvalidEmail
	}
	return out, nil
}

// dotAtom reports whether s is an RFC 5322 dot-atom: atoms of letters,
// digits and !#$%&'*+-/=?^_`{|}~ joined by single dots.
func dotAtom(s string) bool {
	if s == "" || len(s) > maxLocal || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// hostProfile maps a host name as browsers do (lower case, full-width
// forms folded) and checks it as a DNS name: letters, digits and hyphens,
// labels of 1–63 octets.
var hostProfile = idna.New(idna.MapForLookup(), idna.StrictDomainName(true), idna.ValidateLabels(true),
	idna.VerifyDNSLength(true), idna.BidiRule(), idna.Transitional(false))

// normalizeHost returns the ASCII (punycode) form of a host name, or false
// when it is not one. Addresses ([::1], 127.0.0.1) are refused. A name
// needs no dot, so that admin@localhost serves as the first administrator
// of a container.
func normalizeHost(s string) (string, bool) {
	if s == "" || strings.HasSuffix(s, ".") || strings.ContainsAny(s, "[]:") {
		return "", false
	}
	if !utf8.ValidString(s) {
		return "", false
	}
	a, err := hostProfile.ToASCII(s)
	if err != nil || a == "" {
		return "", false
	}
	// The stored form must read back as itself; a name whose Unicode form
	// maps to something IDNA then refuses (U+FFFD, say) is not one.
	if b, err := hostProfile.ToASCII(a); err != nil || b != a {
		return "", false
	}
	// A name of digits and dots alone reads as an IPv4 address.
	if strings.Trim(a, "0123456789.") == "" {
		return "", false
	}
	return a, true
}

// normalizePassword returns p in NFKC form, so that the same password
// typed on different systems (composed or decomposed accents, full-width
// digits) hashes the same, and checks it against the password rules.
func normalizePassword(p string) (string, error) {
	if !utf8.ValidString(p) {
		return "", errPassword("The password is not valid text.")
	}
	p = norm.NFKC.String(p)
	n := utf8.RuneCountInString(p)
	switch {
	case n < MinPasswordLength:
		return "", errPassword("Choose a password of at least 12 characters; a few unrelated words make a good one.")
	case n > MaxPasswordLength:
		return "", errPassword("Choose a password of at most 256 characters.")
	}
	for _, r := range p {
		if unicode.IsControl(r) {
			return "", errPassword("The password may not contain control characters.")
		}
	}
	return p, nil
}
