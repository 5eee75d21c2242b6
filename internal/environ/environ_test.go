package environ_test

import (
	"testing"

	"github.com/shortlinks/shortlinks/internal/environ"
)

func TestGet(t *testing.T) {
	env := []string{"A=1", "AB=2", "EMPTY=", "A=3", "NOEQUALS", "B==x"}
	for _, tt := range []struct{ name, want string }{
		{"A", "3"},    // the last setting wins
		{"AB", "2"},   // not confused with A
		{"EMPTY", ""}, // set but empty
		{"NOEQUALS", ""},
		{"B", "=x"}, // only the first = separates
		{"MISSING", ""},
		{"", ""},
	} {
		if got := environ.Get(env, tt.name); got != tt.want {
			t.Errorf("Get(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := environ.Get(nil, "A"); got != "" {
		t.Errorf("Get(nil, A) = %q", got)
	}
}
