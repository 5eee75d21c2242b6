package link_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/link"
)

var benchURLs = []struct{ name, url string }{
	{"Typical", "https://www.example.com/articles/2024/05/how-to-build-fast-home-garden-123456?utm_source=newsletter"},
	{"IDN", "https://bücher.example/katalog/übersicht?seite=2"},
	{"NumericHost", "http://0xc0.0.02.1:08080/x?y=1"},
	{"Long", "https://example.com/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/0/1/2/3/4/5/6/7/8/9?q=" +
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
}

// benchRules are the rules of a service on a loopback base URL with the
// default list of other shorteners: the most entries to compare with.
var benchRules = link.URLRules{
	SelfHosts:      []string{"localhost:8080", "127.0.0.1:8080", "[::1]:8080"},
	ShortenerHosts: link.DefaultShortenerHosts(),
}

// BenchmarkNormalizeURL is the validation every create pays: the Service
// keeps a Normalizer.
func BenchmarkNormalizeURL(b *testing.B) {
	n := link.NewNormalizer(benchRules)
	for _, u := range benchURLs {
		b.Run(u.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := n.Normalize(u.url); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCanonicalHost is the host parser alone, beside a baseline of
// lower-casing the host, which is all a comparison of strings does.
func BenchmarkCanonicalHost(b *testing.B) {
	for _, h := range []string{"www.example.com", "bücher.example", "0x7f.1", "[0:0:0:0:0:0:0:1]"} {
		b.Run(h, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := link.CanonicalHost(h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("baseline ToLower", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = strings.ToLower("WWW.example.com")
		}
	})
}

// BenchmarkURLParse is the baseline for BenchmarkNormalizeURL: net/url's
// parser alone, which checks far less.
func BenchmarkURLParse(b *testing.B) {
	for _, u := range benchURLs {
		b.Run(u.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := url.Parse(u.url); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var reserved = []string{"api", "healthz", "readyz", "metrics", "static", "favicon.ico", "robots.txt",
	"openapi.yaml", "debug", "admin", "login", "logout", "shorten", "links", "qr", "docs", "www"}

// BenchmarkValidateAlias checks a custom alias against the syntax and the
// reserved names.
func BenchmarkValidateAlias(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := link.ValidateAlias("spring-sale_2025", reserved); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidCode is the check on the redirect path.
func BenchmarkValidCode(b *testing.B) {
	for b.Loop() {
		if !link.ValidCode("aB3xY9z") {
			b.Fatal("invalid")
		}
	}
}

var aliasRE = regexp.MustCompile(`^[A-Za-z0-9_-]{3,64}$`)

// BenchmarkAliasRegexp is the baseline for BenchmarkValidCode: the syntax
// check written as the obvious regular expression.
func BenchmarkAliasRegexp(b *testing.B) {
	for b.Loop() {
		if !aliasRE.MatchString("aB3xY9z") {
			b.Fatal("invalid")
		}
	}
}
