package web

import (
	"slices"
	"testing"
)

func TestDescribeHost(t *testing.T) {
	tests := []struct {
		url     string
		shown   string
		ascii   string
		mixed   []string
		literal bool
		port    string
	}{
		{"https://example.com/a", "example.com", "", nil, false, ""},
		{"https://example.com:8443/a", "example.com", "", nil, false, "8443"},
		// Cyrillic а (U+0430) in place of Latin a: the classic look-alike.
		{"https://xn--pple-43d.com/", "аpple.com", "xn--pple-43d.com", []string{"Cyrillic", "Latin"}, false, ""},
		// A whole-script Cyrillic name under a Latin TLD is not mixed
		// within a label.
		{"https://xn--e1afmkfd.xn--p1ai/", "пример.рф", "xn--e1afmkfd.xn--p1ai", nil, false, ""},
		{"https://xn--bcher-kva.example/", "bücher.example", "xn--bcher-kva.example", nil, false, ""},
		// Japanese mixes Han and kana by nature.
		{"https://xn--wgv71a119e.jp/", "日本語.jp", "xn--wgv71a119e.jp", nil, false, ""},
		{"http://192.0.2.7/x", "192.0.2.7", "", nil, true, ""},
		{"http://[2001:db8::1]:8080/", "2001:db8::1", "", nil, true, "8080"},
		// Punycode that does not decode by the rules stays as it is.
		{"https://xn--a.example/", "xn--a.example", "", nil, false, ""},
	}
	for _, tt := range tests {
		v := describeHost(tt.url)
		if v.Shown != tt.shown || v.ASCII != tt.ascii || !slices.Equal(v.Mixed, tt.mixed) || v.Literal != tt.literal || v.Port != tt.port {
			t.Errorf("describeHost(%q) = %+v, want shown %q ascii %q mixed %v literal %v port %q",
				tt.url, v, tt.shown, tt.ascii, tt.mixed, tt.literal, tt.port)
		}
	}
	if got := (hostView{Mixed: []string{"Cyrillic", "Latin", "Greek"}}).MixedText(); got != "Cyrillic, Latin and Greek" {
		t.Errorf("MixedText = %q", got)
	}
}

func FuzzDescribeHost(f *testing.F) {
	for _, s := range []string{"https://xn--pple-43d.com/", "https://xn--a.example/", "http://[::1]/", "https://a.b.c:1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v := describeHost(raw)
		if v.ASCII != "" && v.ASCII == v.Shown {
			t.Fatalf("describeHost(%q) shows the same name twice: %+v", raw, v)
		}
	})
}
