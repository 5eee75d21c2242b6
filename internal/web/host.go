package web

import (
	"net"
	"net/url"
	"strings"
	"unicode"

	"golang.org/x/net/idna"
)

// hostView is a destination's host spelled out for people deciding
// whether to trust it.
type hostView struct {
	Shown   string   // as people read it: Unicode for an internationalised name
	ASCII   string   // as the browser looks it up: punycode; empty when the same as Shown
	Mixed   []string // a label mixes these scripts, as look-alike names do; nil when none does
	Literal bool     // an IP address rather than a name
	Port    string   // a port other than the scheme's own; empty for none
}

// scripts are the writing systems a host name's letters are told apart
// by. Han, the kana and Hangul are one group: Japanese and Korean names
// mix them as a matter of course.
var scripts = []struct {
	name   string
	tables []*unicode.RangeTable
}{
	{"Latin", []*unicode.RangeTable{unicode.Latin}},
	{"Cyrillic", []*unicode.RangeTable{unicode.Cyrillic}},
	{"Greek", []*unicode.RangeTable{unicode.Greek}},
	{"Armenian", []*unicode.RangeTable{unicode.Armenian}},
	{"Georgian", []*unicode.RangeTable{unicode.Georgian}},
	{"Hebrew", []*unicode.RangeTable{unicode.Hebrew}},
	{"Arabic", []*unicode.RangeTable{unicode.Arabic}},
	{"Devanagari", []*unicode.RangeTable{unicode.Devanagari}},
	{"Thai", []*unicode.RangeTable{unicode.Thai}},
	{"Cherokee", []*unicode.RangeTable{unicode.Cherokee}},
	{"CJK", []*unicode.RangeTable{unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul}},
}

// scriptOf names the script of letter r, "" for digits, hyphens and
// scripts not in the list.
func scriptOf(r rune) string {
	for _, s := range scripts {
		if unicode.In(r, s.tables...) {
			return s.name
		}
	}
	if unicode.IsLetter(r) {
		return "Other"
	}
	return ""
}

// describeHost spells out the host of raw, a URL as the service stores
// it (host lower-cased, an internationalised name in punycode).
func describeHost(raw string) hostView {
	u, err := url.Parse(raw)
	if err != nil {
		return hostView{Shown: raw}
	}
	host := u.Hostname()
	v := hostView{Shown: host, Port: u.Port()}
	if net.ParseIP(host) != nil {
		v.Literal = true
		return v
	}
	// Display is what browsers show: a label that breaks the rules stays
	// in punycode, so nothing is hidden behind a lenient decoding.
	shown, err := idna.Display.ToUnicode(host)
	if err != nil || shown == host {
		if !strings.Contains(host, "xn--") {
			return v
		}
	}
	if err == nil && shown != host {
		v.Shown, v.ASCII = shown, host
	}
	for _, label := range strings.Split(v.Shown, ".") {
		seen := map[string]bool{}
		var order []string
		for _, r := range label {
			if s := scriptOf(r); s != "" && !seen[s] {
				seen[s] = true
				order = append(order, s)
			}
		}
		if len(order) > 1 {
			v.Mixed = order
			break
		}
	}
	return v
}

// MixedText names the scripts a label mixes, for the warning.
func (v hostView) MixedText() string {
	switch len(v.Mixed) {
	case 0:
		return ""
	case 1:
		return v.Mixed[0]
	}
	return strings.Join(v.Mixed[:len(v.Mixed)-1], ", ") + " and " + v.Mixed[len(v.Mixed)-1]
}
