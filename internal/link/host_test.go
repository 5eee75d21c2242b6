package link_test

import (
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/link"
)

func TestCanonicalHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"example.com", "example.com"},
		{"EXAMPLE.com.", "example.com."},
		{"bücher.example", "xn--bcher-kva.example"},
		{"XN--BCHER-KVA.example", "xn--bcher-kva.example"},
		{"b%C3%BCcher.example", "xn--bcher-kva.example"},
		{"%65xample.com", "example.com"},
		{"ｅｘａｍｐｌｅ．com", "example.com"}, // full-width letters and full stop
		{"under_score.example", "under_score.example"},

		{"127.0.0.1", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"0X7F000001", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0177.00.00.01", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"127.0.0.1.", "127.0.0.1"},
		{"0x", "0.0.0.0"},
		{"0", "0.0.0.0"},
		{"0.0.0.0", "0.0.0.0"},
		{"255.255.255.255", "255.255.255.255"},
		{"4294967295", "255.255.255.255"},
		{"1.0x", "1.0.0.0"},
		{"%31%32%37.0.0.1", "127.0.0.1"},
		{"１２７.０.０.１", "127.0.0.1"},
		{"127。0。0。1", "127.0.0.1"},

		{"[::1]", "[::1]"},
		{"[0:0:0:0:0:0:0:1]", "[::1]"},
		{"[::ffff:127.0.0.1]", "[::ffff:7f00:1]"},
		{"[::FFFF:7F00:1]", "[::ffff:7f00:1]"},
		{"[::]", "[::]"},
		{"[2001:db8:0:0:1:0:0:1]", "[2001:db8::1:0:0:1]"},    // the first of two equal runs
		{"[2001:db8:0:1:1:1:1:1]", "[2001:db8:0:1:1:1:1:1]"}, // a single zero piece stays
		{"[1:2:3:4:5:6:7::]", "[1:2:3:4:5:6:7:0]"},
		{"[0001:0:0:0:0:0:0:0]", "[1::]"},
	}
	for _, tt := range tests {
		got, err := link.CanonicalHost(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("CanonicalHost(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		if again, err := link.CanonicalHost(got); err != nil || again != got {
			t.Errorf("CanonicalHost(%q) = %q, %v: not a fixed point", got, again, err)
		}
	}

	for _, bad := range []string{
		"", ".", "a..b", "-a.example", "a-.example", "a b", "a*b.example", "a%b.example", "a%2", "%FF.example",
		"example.1", "example.0x", "1.2.3.4.5", "256.1.1.1", "1.256.1.1", "1.2.65536", "1.16777216", "4294967296",
		"99999999999999999999999", "08", "a.0x1", "1..2", "..", "[::1", "[1.2.3.4]", "[::1%eth0]", "[::1%25eth0]",
		"[1::2::3]", "[12345::]", "0\xbc0", "\x9c", "[::ffff:127.0.0.01]", "xn--", "xn--a", "%C2%AD", strings.Repeat("a", 64) + ".example",
		strings.Repeat("a.", 127) + "example",
	} {
		if got, err := link.CanonicalHost(bad); err == nil {
			t.Errorf("CanonicalHost(%q) = %q, want an error", bad, got)
		}
	}
}

// TestSelfLinkSpellings holds the spellings of a loopback base URL that once
// made two links redirect to each other forever.
func TestSelfLinkSpellings(t *testing.T) {
	// What app builds for the base URL http://localhost:18482.
	rules := link.URLRules{SelfHosts: []string{"localhost:18482", "127.0.0.1:18482", "[::1]:18482"}}
	for _, u := range []string{
		"http://2130706433:18482/x",
		"http://0x7f000001:18482/x",
		"http://0177.0.0.1:18482/x",
		"http://127.1:18482/x",
		"http://0x7f.1:18482/x",
		"http://127.0.0.2:18482/x",
		"http://127.255.255.254:18482/x",
		"http://[::ffff:127.0.0.1]:18482/x",
		"http://[::ffff:7f00:1]:18482/x",
		"http://[0:0:0:0:0:0:0:1]:18482/x",
		"http://[::]:18482/x",
		"http://0.0.0.0:18482/x",
		"http://0:18482/x",
		"http://foo.localhost:18482/x",
		"http://a.b.localhost.:18482/x",
		"http://LOCALHOST.:18482/x",
		"http://localhost:018482/x",
		"http://127.0.0.1:00018482/x",
		"http://%6c%6f%63%61%6c%68%6f%73%74:18482/x",
		"http://ｌｏｃａｌｈｏｓｔ:18482/x",
		"http://１２７.０.０.１:18482/x",
		"https://localhost:18482/x",
	} {
		_, err := link.NormalizeURL(u, rules)
		var le *link.Error
		if !errors.As(err, &le) || le.Code != "url_self_reference" {
			t.Errorf("NormalizeURL(%q) = %v, want url_self_reference", u, err)
		}
	}
	// The same machine on another port is someone else's service.
	for in, want := range map[string]string{
		"http://127.1:3000/x":             "http://127.0.0.1:3000/x",
		"http://foo.localhost:3000/":      "http://foo.localhost:3000/",
		"http://[::ffff:7f00:1]:80/x":     "http://[::ffff:7f00:1]/x",
		"http://localhost/":               "http://localhost/",
		"http://notlocalhost:18482/":      "http://notlocalhost:18482/",
		"http://localhost.example:18482/": "http://localhost.example:18482/",
	} {
		if got, err := link.NormalizeURL(in, rules); err != nil || got != want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}

	// A base URL on a public address: every spelling of the address, on
	// any port.
	public := link.URLRules{SelfHosts: []string{"203.0.113.7", "[2001:db8::7]"}}
	for _, u := range []string{"http://3405803783/", "http://0xcb.0x0.0x71.0x7:8080/", "http://203.0.28935/", "https://[2001:DB8:0:0:0:0:0:7]/"} {
		if _, err := link.NormalizeURL(u, public); !errors.Is(err, &link.Error{Code: "url_self_reference"}) {
			t.Errorf("NormalizeURL(%q) = %v, want url_self_reference", u, err)
		}
	}
	// A public self host says nothing about loopback.
	if _, err := link.NormalizeURL("http://127.0.0.1/", public); err != nil {
		t.Errorf("loopback refused for a public base URL: %v", err)
	}
}

func TestShortenerHosts(t *testing.T) {
	rules := link.URLRules{ShortenerHosts: append(link.DefaultShortenerHosts(), "bücher.example", "192.0.2.9")}
	for _, u := range []string{
		"https://bit.ly/3xYz", "https://BIT.LY./3xYz", "http://www.bit.ly/x", "https://t.co/abc", "https://tinyurl.com/y",
		"https://goo.gl/x", "https://ow.ly/x", "https://is.gd/x", "https://buff.ly/x", "https://rebrand.ly/x",
		"https://cutt.ly/x", "https://shorturl.at/x", "https://t.ly/x", "https://rb.gy/x", "https://tiny.cc/x", "https://s.id/x",
		"https://b%69t.ly/x", "https://ｂｉｔ.ｌｙ/x", "https://xn--bcher-kva.example/x", "https://sub.bücher.example/",
		"http://3221225993/x",
	} {
		_, err := link.NormalizeURL(u, rules)
		var le *link.Error
		if !errors.As(err, &le) || le.Code != "url_is_short_link" || le.Field != "url" || !strings.Contains(le.Message, "shortener") {
			t.Errorf("NormalizeURL(%q) = %v, want url_is_short_link", u, err)
		}
	}
	for _, u := range []string{"https://notbit.ly/x", "https://bit.ly.example.com/x", "https://t.com/x", "https://example.co/x", "http://192.0.2.10/"} {
		if _, err := link.NormalizeURL(u, rules); err != nil {
			t.Errorf("NormalizeURL(%q) = %v, want it accepted", u, err)
		}
	}
	// No list, no refusal: the list is a setting.
	if _, err := link.NormalizeURL("https://bit.ly/x", link.URLRules{}); err != nil {
		t.Errorf("bit.ly refused without a shortener list: %v", err)
	}
	for _, h := range link.DefaultShortenerHosts() {
		if c, err := link.CanonicalHost(h); err != nil || c != h {
			t.Errorf("default shortener host %q is not canonical: %q, %v", h, c, err)
		}
	}
}

func TestURLRulesValidate(t *testing.T) {
	good := link.URLRules{SelfHosts: []string{"sho.rt", "localhost:8080", "[::1]:8080", "127.0.0.1"}, ShortenerHosts: link.DefaultShortenerHosts()}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	bad := link.URLRules{SelfHosts: []string{"sho.rt:http", "a b", "[::1"}, ShortenerHosts: []string{"bit.ly", "bad..host"}}
	err := bad.Validate()
	if err == nil {
		t.Fatal("Validate() accepted bad entries")
	}
	for _, want := range []string{`"sho.rt:http"`, `"a b"`, `"[::1"`, `"bad..host"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), `"bit.ly"`) {
		t.Errorf("Validate() = %v; names a good entry", err)
	}
}

// FuzzCanonicalHost checks that a host CanonicalHost accepts is in one fixed
// form that the standard library reads as the same host.
func FuzzCanonicalHost(f *testing.F) {
	for _, s := range []string{
		"example.com", "bücher.example", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]",
		"[0:0:0:0:0:0:0:1]", "0.0.0.0", "foo.localhost", "LOCALHOST.", "%6c%6f%63%61%6c%68%6f%73%74", "１２７.０.０.１",
		"0x", "1.0x", "example.1", "[::1%25x]", "xn--bcher-kva.example",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, err := link.CanonicalHost(in)
		if err != nil {
			return
		}
		if again, err := link.CanonicalHost(h); err != nil || again != h {
			t.Fatalf("CanonicalHost(%q) = %q, which gives %q, %v", in, h, again, err)
		}
		for i := 0; i < len(h); i++ {
			if c := h[i]; c <= ' ' || c >= 0x7f || c >= 'A' && c <= 'Z' {
				t.Fatalf("CanonicalHost(%q) = %q: byte %#x", in, h, c)
			}
		}
		u, err := url.Parse("http://" + h + "/")
		if err != nil || u.Host != h {
			t.Fatalf("CanonicalHost(%q) = %q, which net/url reads as %v, %v", in, h, u, err)
		}
		if strings.HasPrefix(h, "[") {
			if a, err := netip.ParseAddr(h[1 : len(h)-1]); err != nil || !a.Is6() {
				t.Fatalf("CanonicalHost(%q) = %q: not IPv6", in, h)
			}
		} else if ip := net.ParseIP(h); ip != nil && ip.To4() == nil {
			t.Fatalf("CanonicalHost(%q) = %q: bare IPv6", in, h)
		}
	})
}
