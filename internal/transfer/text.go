package transfer

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// cleanTags trims each tag and drops empty and repeated ones, keeping the
// first occurrence's place. It returns nil for no tags, so that records
// compare equal however the source spelled "none".
func cleanTags(tags []string) []string {
	var out []string
	var seen map[string]bool // only for long lists, where a scan would be quadratic
	if len(tags) > 16 {
		seen = make(map[string]bool, len(tags))
	}
	for _, t := range tags {
		t = strings.TrimSpace(t)
		switch {
		case t == "":
			continue
		case seen != nil:
			if seen[t] {
				continue
			}
			seen[t] = true
		case contains(out, t):
			continue
		}
		out = append(out, t)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkText reports the first of the record's strings that is not UTF-8,
// so that every Record a source yields holds valid text.
func checkText(r *Record) error {
	switch {
	case !utf8.ValidString(r.URL):
		return errors.New("url is not UTF-8 text")
	case !utf8.ValidString(r.Code):
		return errors.New("code is not UTF-8 text")
	case !utf8.ValidString(r.Domain):
		return errors.New("domain is not UTF-8 text")
	case !utf8.ValidString(r.Title):
		return errors.New("title is not UTF-8 text")
	}
	for _, t := range r.Tags {
		if !utf8.ValidString(t) {
			return errors.New("a tag is not UTF-8 text")
		}
	}
	return nil
}

// Layouts of the dates peers write, tried in turn by parseTime. Those
// without a zone are read in UTC.
var (
	// RFC 3339 and ISO 8601 with a zone, including Bitly's "+0000".
	zonedLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05.999999999Z0700"}
	// Database-style times: Kutt on SQLite, spreadsheets.
	plainLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"}
	// Spreadsheet exports in the US style Bitly's dashboard uses.
	usLayouts = []string{"1/2/2006 15:04:05", "1/2/2006 15:04", "1/2/2006"}
)

// parseTime reads s in any of the layouts above and returns it in UTC.
// An empty s is the zero time.
func parseTime(s string, layouts ...[]string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, set := range layouts {
		for _, l := range set {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC(), nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time this source writes", s)
}

// anyTime parses any of the layouts peers are known to write.
func anyTime(s string) (time.Time, error) {
	return parseTime(s, zonedLayouts, plainLayouts, usLayouts)
}

// splitShortURL splits a short URL ("https://s.example/abc", or a
// "s.example/abc" without a scheme, as Bitly ids are) into its host and
// code.
func splitShortURL(s string) (domain, code string, err error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("%q is not a short URL", s)
	}
	code = strings.TrimPrefix(u.EscapedPath(), "/")
	if c, err := url.PathUnescape(code); err == nil {
		code = c
	}
	if code == "" {
		return "", "", fmt.Errorf("%q has no code after the domain", s)
	}
	return strings.ToLower(u.Host), code, nil
}

// normHeader folds a column name to compare it loosely: "Long URL",
// "long_url" and "longUrl" are all "longurl".
func normHeader(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch r {
		case ' ', '_', '-', '.', '\ufeff':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
