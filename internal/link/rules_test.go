package link_test

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/link"
)

func TestNormalizeURL(t *testing.T) {
	rules := link.URLRules{MaxLength: 100, SelfHosts: []string{"sho.rt", "localhost:8080", "[::1]:80"}}
	tests := []struct {
		name, in, want, code string
	}{
		{"plain https", "https://example.com", "https://example.com", ""},
		{"path, query and fragment kept", "https://example.com/a/B?x=1&y=%2F#Frag", "https://example.com/a/B?x=1&y=%2F#Frag", ""},
		{"scheme and host lower-cased, path kept", "HTTPS://ExAmPle.COM/Path/UPPER", "https://example.com/Path/UPPER", ""},
		{"port kept", "http://example.com:8080/x", "http://example.com:8080/x", ""},
		{"IDN host to punycode, non-ASCII path percent-encoded", "https://bücher.example/straße", "https://xn--bcher-kva.example/stra%C3%9Fe", ""},
		{"non-ASCII query and fragment percent-encoded", "https://example.com/?q=日本#ü", "https://example.com/?q=%E6%97%A5%E6%9C%AC#%C3%BC", ""},
		{"existing escapes kept as written", "https://example.com/%e6%97%a5?q=%41", "https://example.com/%e6%97%a5?q=%41", ""},
		{"IPv4 literal", "http://192.0.2.1/x", "http://192.0.2.1/x", ""},
		{"IPv6 literal, default port left out", "http://[2001:DB8::1]:80/", "http://[2001:db8::1]/", ""},
		{"https default port left out", "https://example.com:443/x", "https://example.com/x", ""},
		{"port 80 kept on https", "https://example.com:80/x", "https://example.com:80/x", ""},
		{"port with leading zeros", "http://example.com:0008080/x", "http://example.com:8080/x", ""},
		{"empty port", "http://example.com:/x", "http://example.com/x", ""},
		{"decimal IPv4 spelled as one number", "http://3221225985/x", "http://192.0.2.1/x", ""},
		{"hex and octal IPv4", "http://0xC0.00.02.01/", "http://192.0.2.1/", ""},
		{"short IPv4", "http://192.0x201/", "http://192.0.2.1/", ""},
		{"IPv4 with trailing dot", "http://192.0.2.1./", "http://192.0.2.1/", ""},
		{"full-width IPv4", "http://１９２.０.２.１/", "http://192.0.2.1/", ""},
		{"IPv6 uncompressed", "http://[2001:0db8:0:0:0:0:0:0001]/", "http://[2001:db8::1]/", ""},
		{"IPv4-mapped IPv6 without dotted quad", "http://[::ffff:192.0.2.1]/", "http://[::ffff:c000:201]/", ""},
		{"percent-encoded host decoded", "https://exa%41mple.com/", "https://exaample.com/", ""},
		{"percent-encoded IDN host", "https://b%C3%BCcher.example/", "https://xn--bcher-kva.example/", ""},
		{"full-width host folded", "https://ＥＸＡＭＰＬＥ.com/", "https://example.com/", ""},
		{"query without path", "https://example.com?q=1", "https://example.com?q=1", ""},
		{"odd but legal path kept byte for byte", "https://example.com/a/../b/./c//d", "https://example.com/a/../b/./c//d", ""},
		{"trailing dot host", "https://example.com./", "https://example.com./", ""},

		{"empty", "", "", "missing_url"},
		{"too long", "https://example.com/" + strings.Repeat("a", 81), "", "url_too_long"},
		{"javascript", "javascript:alert(1)", "", "url_scheme_not_allowed"},
		{"data", "data:text/html,<script>alert(1)</script>", "", "url_scheme_not_allowed"},
		{"file", "file:///etc/passwd", "", "url_scheme_not_allowed"},
		{"ftp", "ftp://example.com/", "", "url_scheme_not_allowed"},
		{"mixed-case javascript", "JaVaScRiPt:alert(1)", "", "url_scheme_not_allowed"},
		{"relative", "/just/a/path", "", "url_scheme_not_allowed"},
		{"no slashes", "https:example.com", "", "invalid_url"},
		{"no host", "https:///path", "", "invalid_url"},
		{"credentials", "https://user:pass@example.com/", "", "url_has_credentials"},
		{"user only", "https://user@example.com/", "", "url_has_credentials"},
		{"backslash credential trick", `https://evil.example\@good.example/`, "", "url_has_credentials"},
		{"space", "https://example.com/a b", "", "invalid_url"},
		{"tab", "https://example.com/\tx", "", "invalid_url"},
		{"newline", "https://example.com/\nx", "", "invalid_url"},
		{"NUL", "https://example.com/\x00", "", "invalid_url"},
		{"DEL", "https://example.com/\x7f", "", "invalid_url"},
		{"non-breaking space", "https://example.com/\u00a0", "", "invalid_url"},
		{"literal replacement character", "https://example.com/\ufffd", "", "invalid_url"},
		{"invalid UTF-8", "https://example.com/\xff", "", "invalid_url"},
		{"bad port", "https://example.com:99999/", "", "invalid_url"},
		{"non-numeric port", "https://example.com:http/", "", "invalid_url"},
		{"bad percent-encoding", "https://example.com/%zz", "", "invalid_url"},
		{"host with a stray percent", "https://exa%4mple.com/", "", "invalid_url"},
		{"host decoding to bad UTF-8", "https://exa%FFmple.com/", "", "invalid_url"},
		{"host decoding to a slash", "https://evil.example%2F@good.example/", "", "url_has_credentials"},
		{"host decoding to a colon", "http://example.com%3A80/", "", "invalid_url"},
		{"host decoding to nothing", "http://%C2%AD/", "", "invalid_url"},
		{"domain ending in a number", "http://example.123/", "", "invalid_url"},
		{"IPv4 part too large", "http://256.0.0.1/", "", "invalid_url"},
		{"IPv4 last part too large", "http://1.2.65536/", "", "invalid_url"},
		{"IPv4 too many parts", "http://1.2.3.4.5/", "", "invalid_url"},
		{"bad octal", "http://09.0.0.1/", "", "invalid_url"},
		{"IPv4 number over 32 bits", "http://4294967296/", "", "invalid_url"},
		{"IPv6 zone", "http://[fe80::1%25eth0]/", "", "invalid_url"},
		{"IPv6 with garbage after the bracket", "http://[::1]x/", "", "invalid_url"},
		{"port zero", "http://example.com:0/", "", "invalid_url"},
		{"signed port", "http://example.com:+80/", "", "invalid_url"},
		{"port after a colon in the host", "http://example.com:80:80/", "", "invalid_url"},
		{"backslash in the host", `https://evil.example\.good.example/`, "", "invalid_url"},
		{"IDN label that is not valid punycode", "https://xn--a.example/", "", "invalid_url"},
		{"empty punycode label", "https://xn--/", "", "invalid_url"},
		{"host with comma", "https://a,b.example/", "", "invalid_url"},
		{"label over 63 bytes", "https://" + strings.Repeat("a", 64) + ".example/", "", "invalid_url"},
		{"unclosed IPv6", "http://[::1/", "", "invalid_url"},
		{"IPv4 in brackets", "http://[192.0.2.1]/", "", "invalid_url"},
		{"unbracketed IPv6", "http://A00:::/", "", "invalid_url"},
		{"self link", "https://sho.rt/abc", "", "url_self_reference"},
		{"self link with case and port", "http://SHO.RT:8080/abc", "", "url_self_reference"},
		{"self link with trailing dot", "https://sho.rt./abc", "", "url_self_reference"},
		{"self on a shared host and our port", "http://LOCALHOST:8080/abc", "", "url_self_reference"},
		{"shared host, another port", "http://localhost:3000/abc", "http://localhost:3000/abc", ""},
		{"self IPv6 on the implied port", "http://[::1]/abc", "", "url_self_reference"},
		{"self IPv6, another port", "http://[::1]:81/abc", "http://[::1]:81/abc", ""},
		{"self host percent-encoded", "https://sho%2Ert/abc", "", "url_self_reference"},
		{"self host full-width", "https://ｓｈｏ.ｒｔ/abc", "", "url_self_reference"},
		{"self host with default port spelled out", "https://sho.rt:443/abc", "", "url_self_reference"},

		{"invisible: right-to-left override", "https://example.com/\u202etxt.exe", "", "url_invisible_character"},
		{"invisible: zero-width space in host", "https://exa\u200bmple.com/", "", "url_invisible_character"},
		{"invisible: byte order mark", "https://example.com/\ufeff", "", "url_invisible_character"},
		{"invisible: soft hyphen", "https://pay\u00adpal.example/", "", "url_invisible_character"},
		{"invisible: isolate", "https://example.com/?a=\u2067b", "", "url_invisible_character"},
		{"invisible: left-to-right mark", "https://example.com/#\u200e", "", "url_invisible_character"},
		{"invisible: Hangul filler", "https://example.com/\u3164", "", "url_invisible_character"},
		{"invisible: tag character", "https://example.com/\U000E0041", "", "url_invisible_character"},
		{"invisible: Arabic letter mark", "https://example.com/\u061c", "", "url_invisible_character"},
		{"line separator", "https://example.com/\u2028", "", "invalid_url"},
		{"paragraph separator", "https://example.com/\u2029", "", "invalid_url"},
		{"invisible character percent-encoded is visible", "https://example.com/%E2%80%AE", "https://example.com/%E2%80%AE", ""},
		{"visible format character kept", "https://example.com/\u0600", "https://example.com/%D8%80", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := link.NormalizeURL(tt.in, rules)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("NormalizeURL(%q) error %v", tt.in, err)
				}
				if got != tt.want {
					t.Fatalf("NormalizeURL(%q) = %q, want %q", tt.in, got, tt.want)
				}
				return
			}
			var le *link.Error
			if !errors.As(err, &le) || le.Code != tt.code || le.Kind != link.Invalid || le.Field != "url" {
				t.Fatalf("NormalizeURL(%q) = %q, %v; want error %s on field url", tt.in, got, err, tt.code)
			}
		})
	}
}

func TestNormalizeURLDefaultLength(t *testing.T) {
	base := "https://example.com/"
	ok := base + strings.Repeat("a", link.DefaultMaxURLLength-len(base))
	if _, err := link.NormalizeURL(ok, link.URLRules{}); err != nil {
		t.Fatalf("URL of exactly %d bytes: %v", len(ok), err)
	}
	if _, err := link.NormalizeURL(ok+"a", link.URLRules{}); err == nil {
		t.Fatalf("URL of %d bytes accepted", len(ok)+1)
	}
}

func TestValidateAlias(t *testing.T) {
	reserved := []string{"api", "healthz", "favicon.ico"}
	tests := []struct {
		alias, code string
	}{
		{"abc", ""},
		{"My-Alias_01", ""},
		{strings.Repeat("z", 64), ""},
		{"ab", "invalid_alias"},
		{strings.Repeat("z", 65), "invalid_alias"},
		{"has space", "invalid_alias"},
		{"dot.ted", "invalid_alias"},
		{"slash/ed", "invalid_alias"},
		{"ünï", "invalid_alias"},
		{"%41bc", "invalid_alias"},
		{"api", "alias_reserved"},
		{"API", "alias_reserved"},
		{"Healthz", "alias_reserved"},
	}
	for _, tt := range tests {
		err := link.ValidateAlias(link.Code(tt.alias), reserved)
		if tt.code == "" {
			if err != nil {
				t.Errorf("ValidateAlias(%q) = %v, want nil", tt.alias, err)
			}
			continue
		}
		var le *link.Error
		if !errors.As(err, &le) || le.Code != tt.code || le.Field != "alias" {
			t.Errorf("ValidateAlias(%q) = %v, want %s", tt.alias, err, tt.code)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c, err := link.ParseCursor(link.Cursor{CreatedAt: mustTime(t, "2030-01-02T03:04:05.123456Z"), Code: "Ab-_9"}.String())
	if err != nil || c.Code != "Ab-_9" || !c.CreatedAt.Equal(mustTime(t, "2030-01-02T03:04:05.123456Z")) {
		t.Fatalf("round trip = %+v, %v", c, err)
	}
	byClicks := link.Cursor{CreatedAt: mustTime(t, "2030-01-02T03:04:05.123456Z"), Code: "Ab-_9", ByClicks: true, Clicks: 42}
	if c, err := link.ParseCursor(byClicks.String()); err != nil || c != byClicks {
		t.Fatalf("round trip by clicks = %+v, %v; want %+v", c, err, byClicks)
	}
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, bad := range []string{"", "!!!", "bm9jb2xvbg", "MTIzOmE", enc("123:abc:-1"), enc("123:abc:x"), enc("123:abc:1:2")} { // "nocolon", "123:a" (code too short)
		if _, err := link.ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) accepted", bad)
		}
	}
}

// FuzzNormalizeURL checks that whatever NormalizeURL accepts is safe to put
// in a Location header, keeps its promises, and is never one of the
// service's own hosts or another shortener, however it was spelled.
func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{
		"https://example.com/a?b#c", "HTTP://EXAMPLE.com:8080", "https://bücher.example/", "http://[::1]:1/",
		"javascript:alert(1)", "https://u:p@h/", "https://h/%zz", "https://h/\x00", "https://sho.rt/x", "http://a\\@b/",
		// Spellings of a loopback self host on its port.
		"http://2130706433:18482/x", "http://0x7f000001:18482/x", "http://0177.0.0.1:18482/x", "http://127.1:18482/x",
		"http://[::ffff:127.0.0.1]:18482/x", "http://[0:0:0:0:0:0:0:1]:18482/x", "http://0.0.0.0:18482/x",
		"http://foo.localhost:18482/x", "http://localhost:018482/x", "http://LOCALHOST.:18482/", "http://0x7f.1:18482/",
		"http://%6c%6f%63%61%6c%68%6f%73%74:18482/", "http://ｌｏｃａｌｈｏｓｔ:18482/", "http://[::]:18482/",
		"http://[::ffff:7f00:1]:18482/", "http://127.0.0.1.:18482/", "http://0:18482/", "http://0x7F.0.0.01:18482/",
		"http://127.000.000.001:18482/", "http://[0000::1]:18482/", "http://a.b.localhost.:18482/", "http://127.0.0.1:18482.x/",
		"https://SHO.RT./x", "https://sho%2ert/x", "https://b%69t.ly/x", "https://www.bit.ly./x",
		"https://example.com/\u202etxt.exe", "https://example.com/ü?ä#ö",
	} {
		f.Add(s)
	}
	rules := link.URLRules{
		SelfHosts:      []string{"sho.rt", "localhost:18482", "127.0.0.1:18482", "[::1]:18482"},
		ShortenerHosts: link.DefaultShortenerHosts(),
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := link.NormalizeURL(in, rules)
		if err != nil {
			var le *link.Error
			if !errors.As(err, &le) || le.Kind != link.Invalid || le.Code == "" || le.Message == "" {
				t.Fatalf("NormalizeURL(%q) error %v is not a client error", in, err)
			}
			return
		}
		if !strings.HasPrefix(out, "http://") && !strings.HasPrefix(out, "https://") {
			t.Fatalf("NormalizeURL(%q) = %q: not http(s)", in, out)
		}
		for i := 0; i < len(out); i++ {
			if c := out[i]; c <= ' ' || c >= 0x7f {
				t.Fatalf("NormalizeURL(%q) = %q: byte %#x is not printable ASCII", in, out, c)
			}
		}
		u, err := url.Parse(out)
		if err != nil || u.User != nil || u.Host == "" {
			t.Fatalf("NormalizeURL(%q) = %q, which net/url reads as %+v, %v", in, out, u, err)
		}
		hostText := u.Hostname()
		if strings.Contains(hostText, ":") {
			hostText = "[" + hostText + "]"
		}
		if c, err := link.CanonicalHost(hostText); err != nil || c != hostText {
			t.Fatalf("NormalizeURL(%q) = %q: host not canonical (%q, %v)", in, out, c, err)
		}
		host := strings.TrimSuffix(u.Hostname(), ".")
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		loopback := host == "localhost" || strings.HasSuffix(host, ".localhost")
		if a, err := netip.ParseAddr(host); err == nil {
			loopback = a.Unmap().IsLoopback() || a.Unmap().IsUnspecified()
		}
		if host == "sho.rt" || loopback && port == "18482" {
			t.Fatalf("NormalizeURL(%q) = %q: a link to this service", in, out)
		}
		for _, d := range rules.ShortenerHosts {
			if host == d || strings.HasSuffix(host, "."+d) {
				t.Fatalf("NormalizeURL(%q) = %q: a link to the shortener %s", in, out, d)
			}
		}
		again, err := link.NormalizeURL(out, rules)
		if err != nil || again != out {
			t.Fatalf("NormalizeURL is not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
	})
}

// FuzzValidateAlias checks that accepted aliases are exactly the documented
// alphabet and lengths.
func FuzzValidateAlias(f *testing.F) {
	for _, s := range []string{"abc", "a_b-c", "ab", "api", "ÄÖÜ", "x/y", strings.Repeat("a", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := link.ValidateAlias(link.Code(s), []string{"api"})
		ok := len(s) >= 3 && len(s) <= 64 && !strings.EqualFold(s, "api")
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				ok = false
			}
		}
		if (err == nil) != ok {
			t.Fatalf("ValidateAlias(%q) = %v, want accepted=%t", s, err, ok)
		}
	})
}

// FuzzParseCursor checks that any token a client sends is either refused
// as invalid_cursor or is one that Cursor.String writes back unchanged.
func FuzzParseCursor(f *testing.F) {
	f.Add(link.Cursor{Code: "abc"}.String())
	f.Add("MTc2NDE1ODQwMDEyMzQ1NjprM1Q5eFFh")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := link.ParseCursor(s)
		if err != nil {
			var le *link.Error
			if !errors.As(err, &le) || le.Code != "invalid_cursor" {
				t.Fatalf("ParseCursor(%q) = %v", s, err)
			}
			return
		}
		again, err := link.ParseCursor(c.String())
		if err != nil || again != c {
			t.Fatalf("cursor %q parsed as %+v does not round-trip: %+v, %v", s, c, again, err)
		}
	})
}
