package link_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

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
		{"IDN host to punycode", "https://bücher.example/straße", "https://xn--bcher-kva.example/straße", ""},
		{"IPv4 literal", "http://192.0.2.1/x", "http://192.0.2.1/x", ""},
		{"IPv6 literal", "http://[2001:DB8::1]:80/", "http://[2001:db8::1]:80/", ""},
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
		{"invalid UTF-8", "https://example.com/\xff", "", "invalid_url"},
		{"bad port", "https://example.com:99999/", "", "invalid_url"},
		{"non-numeric port", "https://example.com:http/", "", "invalid_url"},
		{"bad percent-encoding", "https://example.com/%zz", "", "invalid_url"},
		{"host with percent", "https://exa%41mple.com/", "", "invalid_url"},
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
	for _, bad := range []string{"", "!!!", "bm9jb2xvbg", "MTIzOmE"} { // "nocolon", "123:a" (code too short)
		if _, err := link.ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) accepted", bad)
		}
	}
}

// FuzzNormalizeURL checks that whatever NormalizeURL accepts is safe to put
// in a Location header and keeps its promises.
func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{
		"https://example.com/a?b#c", "HTTP://EXAMPLE.com:8080", "https://bücher.example/", "http://[::1]:1/",
		"javascript:alert(1)", "https://u:p@h/", "https://h/%zz", "https://h/\x00", "https://sho.rt/x", "http://a\\@b/",
	} {
		f.Add(s)
	}
	rules := link.URLRules{SelfHosts: []string{"sho.rt"}}
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
		if !utf8.ValidString(out) {
			t.Fatalf("NormalizeURL(%q) = %q: invalid UTF-8", in, out)
		}
		for _, r := range out {
			if r < 0x21 || r == 0x7f {
				t.Fatalf("NormalizeURL(%q) = %q: control or space character", in, out)
			}
		}
		host := out[strings.Index(out, "//")+2:]
		if i := strings.IndexAny(host, "/?#"); i >= 0 {
			host = host[:i]
		}
		if strings.Contains(host, "@") || host == "" {
			t.Fatalf("NormalizeURL(%q) = %q: host %q", in, out, host)
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
