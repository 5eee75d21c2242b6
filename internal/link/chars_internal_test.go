package link

import (
	"testing"
	"unicode"
)

// defaultIgnorable lists Default_Ignorable_Code_Point as Unicode's
// DerivedCoreProperties.txt publishes it (stable since Unicode 6; the
// Egyptian format controls that became Cf later were excluded from it).
var defaultIgnorable = []struct{ lo, hi rune }{
	{0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x061C, 0x061C}, {0x115F, 0x1160}, {0x17B4, 0x17B5},
	{0x180B, 0x180F}, {0x200B, 0x200F}, {0x202A, 0x202E}, {0x2060, 0x206F}, {0x3164, 0x3164},
	{0xFE00, 0xFE0F}, {0xFEFF, 0xFEFF}, {0xFFA0, 0xFFA0}, {0xFFF0, 0xFFF8}, {0x1BCA0, 0x1BCA3},
	{0x1D173, 0x1D17A}, {0xE0000, 0xE0FFF},
}

// TestInvisible checks the derivation in invisible against the published
// property, for every code point.
func TestInvisible(t *testing.T) {
	want := func(r rune) bool {
		if unicode.Is(unicode.Bidi_Control, r) {
			return true
		}
		for _, rg := range defaultIgnorable {
			if r >= rg.lo && r <= rg.hi {
				return true
			}
		}
		return false
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if got := invisible(r); got != want(r) {
			t.Errorf("invisible(%U) = %t, want %t", r, got, want(r))
		}
	}
}
