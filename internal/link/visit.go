package link

import (
	"context"
	"fmt"
	"strings"
)

// Errors of the redirect of a link with options.
var (
	// ErrExhausted is a link that has made as many redirects as its
	// MaxVisits allows.
	ErrExhausted = &Error{Kind: Gone, Code: "link_exhausted",
		Message: "This link has been followed as many times as its owner allowed; it no longer leads anywhere."}
	// ErrPasswordRequired is a link with a password, asked for without
	// one.
	ErrPasswordRequired = &Error{Kind: Unauthenticated, Code: "password_required",
		Message: "This link is protected by a password: send it as the form field password in a POST to the short URL.", Field: "password"}
	// ErrWrongPassword is a password that is not the link's.
	ErrWrongPassword = &Error{Kind: Unauthenticated, Code: "wrong_password",
		Message: "That is not the link's password; check it and try again.", Field: "password"}
)

// Visitor counts the redirects of links that have a visit limit. It is
// the only write on the redirect path, and only links with a MaxVisits
// make it.
//
// Visit counts one redirect of the live link with id if the link has made
// fewer redirects than the MaxVisits stored for it now (or has no limit),
// as one atomic step, so that concurrent visits, from any number of
// instances sharing the database, stop exactly at the limit. It reports
// whether it counted: false once the limit is reached, and for an id with
// no live link. Any error that means the engine cannot be reached wraps
// ErrUnavailable.
type Visitor interface {
	Visit(ctx context.Context, id int64) (bool, error)
}

// HasOptions reports whether the redirect of l must do more than send the
// visitor to URL: ask for a password, count the visit against a limit,
// choose a destination by rule or forward the query string. Links that
// resolve are enabled and valid, so this is the part of Plain that the
// redirect reads; for the common, plain link it is four comparisons that
// all fail.
func (l *Link) HasOptions() bool {
	return l.PasswordHash != "" || l.MaxVisits != 0 || l.ForwardQuery || len(l.Rules) != 0
}

// Visit counts a redirect of l against its MaxVisits, which must be set:
// ErrExhausted once l has made that many, a wrapped ErrUnavailable when
// the count cannot be taken.
func (s *Service) Visit(ctx context.Context, l Link) error {
	if s.visits == nil {
		return fmt.Errorf("visit %s: %w", l.Code, errNoVisitor)
	}
	ok, err := s.visits.Visit(ctx, l.ID)
	if err != nil {
		return fmt.Errorf("visit %s: %w", l.Code, err)
	}
	if !ok {
		return ErrExhausted
	}
	return nil
}

// CheckPassword returns nil if secret is l's password and
// ErrWrongPassword if it is not (or is empty, or l has none).
func (s *Service) CheckPassword(ctx context.Context, l Link, secret string) error {
	if l.PasswordHash == "" || secret == "" || len(secret) > MaxPassword {
		return ErrWrongPassword
	}
	if s.verify == nil {
		return fmt.Errorf("check password of %s: %w", l.Code, errNoVerifier)
	}
	ok, err := s.verify(ctx, l.PasswordHash, secret)
	if err != nil {
		return fmt.Errorf("check password of %s: %w", l.Code, err)
	}
	if !ok {
		return ErrWrongPassword
	}
	return nil
}

// A Visit is what the rules of a link can see of a visitor.
type Visit struct {
	Device   string // ios, android, desktop, or "" when unknown (see DeviceOf)
	Country  string // ISO 3166-1 alpha-2, upper case; "" when unknown
	Language string // ISO 639-1, lower case; "" when unknown (see PreferredLanguage)
}

// Matches reports whether v meets every condition c sets. A condition set
// on something unknown of v does not match.
func (c Condition) Matches(v Visit) bool {
	return (c.Device == "" || c.Device == v.Device) &&
		(c.Country == "" || c.Country == v.Country) &&
		(c.Language == "" || c.Language == v.Language)
}

// Destination returns where l sends v: the URL of the first rule whose
// condition v matches, else l.URL.
func (l *Link) Destination(v Visit) string {
	for i := range l.Rules {
		if l.Rules[i].When.Matches(v) {
			return l.Rules[i].URL
		}
	}
	return l.URL
}

// Needs reports which parts of a visit l's rules read, so that a
// redirect looks up only those (a GeoIP lookup, for one).
func (l *Link) Needs() (device, country, language bool) {
	for _, r := range l.Rules {
		device = device || r.When.Device != ""
		country = country || r.When.Country != ""
		language = language || r.When.Language != ""
	}
	return device, country, language
}

// DeviceOf tells the device a User-Agent header names, for rules: "ios"
// for iPhones, iPads and iPods, "android" for Android, "desktop" for
// Windows, macOS, Linux and ChromeOS browsers, and "" for anything else
// (programs, bots, other systems). iPads since iPadOS 13 present
// themselves as macOS in Safari and are desktop here, as they are to
// every site.
func DeviceOf(ua string) string {
	switch {
	case ua == "":
		return ""
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad") || strings.Contains(ua, "iPod"):
		return "ios"
	case strings.Contains(ua, "Android"):
		return "android"
	case !strings.HasPrefix(ua, "Mozilla/"):
		return ""
	case strings.Contains(ua, "Windows NT") || strings.Contains(ua, "Macintosh") ||
		strings.Contains(ua, "X11") || strings.Contains(ua, "CrOS"):
		if strings.Contains(ua, "Mobile") {
			return ""
		}
		return "desktop"
	}
	return ""
}

// PreferredLanguage returns the primary subtag, lower case, of the
// language an Accept-Language header weighs highest (the first of equals),
// or "" when it names none: "de-CH, fr;q=0.9" is "de". Languages weighted
// q=0 and the wildcard are skipped.
func PreferredLanguage(header string) string {
	best, bestQ := "", -1.0
	for part := range strings.SplitSeq(header, ",") {
		tag, params, _ := strings.Cut(part, ";")
		tag = strings.TrimSpace(tag)
		primary, _, _ := strings.Cut(tag, "-")
		if primary == "*" || !letters(primary, 2) && !letters(primary, 3) {
			continue
		}
		q := 1.0
		if p := strings.TrimSpace(params); p != "" {
			q = qValue(p)
		}
		if q > bestQ && q > 0 {
			best, bestQ = strings.ToLower(primary), q
		}
	}
	return best
}

// qValue reads "q=0.8" as 0.8; anything else as 0.
func qValue(p string) float64 {
	v, ok := strings.CutPrefix(strings.ReplaceAll(p, " ", ""), "q=")
	if !ok || v == "" || len(v) > 5 {
		return 0
	}
	if v[0] == '1' {
		return 1
	}
	if v[0] != '0' {
		return 0
	}
	q, scale := 0.0, 1.0
	for i := 1; i < len(v); i++ {
		c := v[i]
		if i == 1 {
			if c != '.' {
				return 0
			}
			continue
		}
		if c < '0' || c > '9' {
			return 0
		}
		scale /= 10
		q += float64(c-'0') * scale
	}
	return q
}

// WithQuery returns dest with query appended to its query string, before
// its fragment: "https://d/?a=1#top" and "utm_source=x" give
// "https://d/?a=1&utm_source=x#top". An empty query leaves dest as it is.
func WithQuery(dest, query string) string {
	if query == "" {
		return dest
	}
	base, frag, hasFrag := strings.Cut(dest, "#")
	var b strings.Builder
	b.Grow(len(dest) + len(query) + 1)
	b.WriteString(base)
	switch i := strings.IndexByte(base, '?'); {
	case i < 0:
		b.WriteByte('?')
	case i == len(base)-1 || base[len(base)-1] == '&':
		// "https://d/?" or "https://d/?a=1&": the separator is there.
	default:
		b.WriteByte('&')
	}
	b.WriteString(query)
	if hasFrag {
		b.WriteByte('#')
		b.WriteString(frag)
	}
	return b.String()
}
