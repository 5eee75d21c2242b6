package link_test

import (
	"errors"
	"testing"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/shortcode"
)

func TestLoader(t *testing.T) {
	f := newService(t)
	loader := link.NewLoader(f.db, shortcode.NewGenerator(f.perm, f.db, 10))
	now := f.clock.Now().UTC()
	links := []link.Link{
		{URL: "https://example.com/1", CreatedAt: now},
		{Code: "given", URL: "https://example.com/given", CreatedAt: now},
		{URL: "https://example.com/2", CreatedAt: now, Owner: 7},
		{URL: "https://example.com/3", CreatedAt: now},
	}
	if err := loader.Load(t.Context(), links); err != nil {
		t.Fatal(err)
	}
	if links[1].Code != "given" {
		t.Fatalf("Load replaced the code given: %q", links[1].Code)
	}
	seen := map[link.Code]bool{}
	for _, l := range links {
		if !link.ValidCode(l.Code) || seen[l.Code] {
			t.Fatalf("code %q: invalid or repeated", l.Code)
		}
		seen[l.Code] = true
		got, err := f.db.Get(t.Context(), l.Code)
		if err != nil || got.URL != l.URL || got.Owner != l.Owner {
			t.Fatalf("Get(%s) = %+v, %v; want %+v", l.Code, got, err, l)
		}
	}

	// A taken code fails the whole batch.
	again := []link.Link{{URL: "https://example.com/4", CreatedAt: now}, {Code: "given", URL: "https://example.com/again", CreatedAt: now}}
	if err := loader.Load(t.Context(), again); !errors.Is(err, link.ErrCodeTaken) {
		t.Fatalf("Load with a taken code = %v, want ErrCodeTaken", err)
	}
	if _, err := f.db.Get(t.Context(), again[0].Code); again[0].Code == "" || !errors.Is(err, link.ErrNotFound) {
		t.Fatalf("the other link of a failed batch (code %q): %v, want ErrNotFound", again[0].Code, err)
	}
	if err := loader.Load(t.Context(), nil); err != nil {
		t.Fatalf("Load(nil) = %v", err)
	}
}
