package account_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shortlinks/shortlinks/internal/account"
)

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{
		"alice@example.com":                         "alice@example.com",
		"  Alice@Example.COM \n":                    "alice@example.com",
		"a.b+tag@sub.example.org":                   "a.b+tag@sub.example.org",
		"o'brien@example.ie":                        "o'brien@example.ie",
		"admin@localhost":                           "admin@localhost",
		"user@bücher.example":                       "user@xn--bcher-kva.example",
		"user@ＥＸＡＭＰＬＥ.com":                          "user@example.com", // full-width letters fold
		"x@" + strings.Repeat("a", 63) + ".example": "x@" + strings.Repeat("a", 63) + ".example",
	} {
		got, err := account.NormalizeEmail(in)
		if err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"",
		"alice",
		"@example.com",
		"alice@",
		"alice@@example.com",
		"al ice@example.com",
		".alice@example.com",
		"alice.@example.com",
		"al..ice@example.com",
		`"alice"@example.com`,
		"ålice@example.com",
		"alice@example.com.",
		"alice@exa_mple.com",
		"alice@-example.com",
		"alice@[127.0.0.1]",
		"alice@127.0.0.1",
		"alice@example..com",
		"Alice <alice@example.com>",
		strings.Repeat("a", 65) + "@example.com",
		"x@" + strings.Repeat("a", 64) + ".example",
		"x@" + strings.Repeat("abcdefghi.", 25) + "example",
		"alice@exam\u202eple.com",
	} {
		if got, err := account.NormalizeEmail(in); !errors.Is(err, account.ErrInvalidEmail) {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want ErrInvalidEmail", in, got, err)
		}
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"alice@example.com", " Bob@Bücher.Example ", "a@b", "x@[::1]", "\"q\"@x", "a@ＥＸＡＭＰＬＥ.com", "a@xn--bcher-kva.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := account.NormalizeEmail(s)
		if err != nil {
			if !errors.Is(err, account.ErrInvalidEmail) {
				t.Fatalf("NormalizeEmail(%q) = %v, want ErrInvalidEmail", s, err)
			}
			return
		}
		if len(got) > 254 || !utf8.ValidString(got) || got != strings.ToLower(got) || strings.Count(got, "@") != 1 {
			t.Fatalf("NormalizeEmail(%q) = %q: not a short, lower-case address", s, got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] <= ' ' || got[i] >= 0x7f {
				t.Fatalf("NormalizeEmail(%q) = %q: not printable ASCII", s, got)
			}
		}
		// The stored form is a fixed point: looking a user up by it finds
		// them.
		if again, err := account.NormalizeEmail(got); err != nil || again != got {
			t.Fatalf("NormalizeEmail(%q) = %q, but that normalises to %q, %v", s, got, again, err)
		}
	})
}
