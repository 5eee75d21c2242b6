package analytics

import (
	"net/netip"
	"testing"
)

func TestAnonymize(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.77":                           "203.0.113.0",
		"::ffff:203.0.113.77":                    "203.0.113.0",
		"2001:db8:1234:5678:9abc::1":             "2001:db8:1234::",
		"2001:db8:1234:ffff:ffff:ffff:ffff:ffff": "2001:db8:1234::",
		"fe80::1%eth0":                           "fe80::",
	} {
		if got := Anonymize(netip.MustParseAddr(in)); got.String() != want {
			t.Errorf("Anonymize(%s) = %s, want %s", in, got, want)
		}
	}
	if got := Anonymize(netip.Addr{}); got.IsValid() {
		t.Errorf("Anonymize(invalid) = %s", got)
	}
}

func TestRefererHost(t *testing.T) {
	for _, tt := range []struct {
		ref       string
		truncated bool
		want      string
	}{
		{"", false, ""},
		{"   ", false, ""},
		{"https://www.Example.COM/path?q=1", false, "www.example.com"},
		{"https://user:pw@example.com:8443/x", false, "example.com"},
		{"http://example.com", false, "example.com"},
		{"http://example.com.:80", false, "example.com"},
		{"https://t.co/abc", false, "t.co"},
		{"android-app://com.google.android.gm/", false, "com.google.android.gm"},
		{"http://[2001:DB8::1]:8080/", false, "[2001:db8::1]"},
		{"https://example.com#frag", false, "example.com"},
		{"https://very-long-host.example.com", true, InvalidReferer},
		{"https://example.com/cut-here", true, "example.com"},
		{"example.com/no-scheme", false, InvalidReferer},
		{"about:blank", false, InvalidReferer},
		{"://example.com", false, InvalidReferer},
		{"1http://example.com", false, InvalidReferer},
		{"https:///path-only", false, InvalidReferer},
		{"https://exa mple.com/", false, InvalidReferer},
		{"https://exämple.com/", false, InvalidReferer},
		{"http://[::1/", false, InvalidReferer},
	} {
		if got := RefererHost(tt.ref, tt.truncated); got != tt.want {
			t.Errorf("RefererHost(%q, %v) = %q, want %q", tt.ref, tt.truncated, got, tt.want)
		}
	}
}

func TestLanguage(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "",
		"en-US,en;q=0.9":           "en-us",
		"de":                       "de",
		" fr-CH ; q=0.9, fr;q=0.8": "fr-ch",
		"*":                        "",
		"zh-Hant-TW,zh;q=0.9":      "zh-hant-tw",
		"<script>":                 "",
		"averyveryverylongtag,en":  "",
	} {
		if got := Language(in); got != want {
			t.Errorf("Language(%q) = %q, want %q", in, got, want)
		}
	}
}
