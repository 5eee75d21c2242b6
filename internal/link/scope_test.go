package link_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/shortlinks/shortlinks/internal/link"
)

func TestScopes(t *testing.T) {
	s, err := link.ParseScopes([]string{"admin", "links:read", "admin"})
	if err != nil || s != link.ScopeAdmin|link.ScopeLinksRead {
		t.Fatalf("ParseScopes = %v, %v", s, err)
	}
	if got := s.Names(); !slices.Equal(got, []string{"links:read", "admin"}) {
		t.Fatalf("Names = %v, want the fixed order", got)
	}
	if got := link.AllScopes.String(); got != "links:read links:write admin" {
		t.Fatalf("String = %q", got)
	}
	if got, err := link.ParseScopes(link.AllScopes.Names()); err != nil || got != link.AllScopes {
		t.Fatalf("ParseScopes(Names) = %v, %v", got, err)
	}
	if got, err := link.ParseScopes(nil); err != nil || got != 0 {
		t.Fatalf("ParseScopes(nil) = %v, %v", got, err)
	}
	for _, bad := range []string{"links", "LINKS:READ", "links:delete", "", "admin "} {
		if _, err := link.ParseScopes([]string{bad}); !errors.Is(err, &link.Error{Code: "invalid_scope"}) {
			t.Errorf("ParseScopes(%q) = %v, want invalid_scope", bad, err)
		}
	}
	if !link.AllScopes.Has(link.ScopeLinksWrite|link.ScopeAdmin) || link.ScopeLinksRead.Has(link.ScopeLinksRead|link.ScopeLinksWrite) {
		t.Fatal("Has is not a subset test")
	}
	p := link.Principal{KeyID: 1, Scopes: link.ScopeLinksRead}
	if !p.Can(link.ScopeLinksRead) || p.Can(link.ScopeLinksWrite) {
		t.Fatal("Can does not follow the scopes")
	}
}

func TestAnonymous(t *testing.T) {
	for _, tc := range []struct {
		p    link.Principal
		want bool
	}{
		{link.Principal{}, true},
		{link.Principal{KeyID: 1}, false},
		{link.Principal{UserID: 1}, false},
		{link.Principal{KeyID: 1, UserID: 2}, false},
	} {
		if got := tc.p.Anonymous(); got != tc.want {
			t.Errorf("%+v.Anonymous() = %v", tc.p, got)
		}
	}
}

// TestUserWithoutKey checks that a signed-in user who is not an admin is
// shown neither anonymous links nor other people's.
func TestUserWithoutKey(t *testing.T) {
	f := newService(t)
	anon, err := f.svc.Create(t.Context(), link.CreateParams{URL: "https://anon.example/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Create(t.Context(), link.CreateParams{URL: "https://keyed.example/", Owner: link.Principal{KeyID: 4}}); err != nil {
		t.Fatal(err)
	}
	member := link.Principal{UserID: 7, Scopes: link.ScopeLinksRead | link.ScopeLinksWrite}
	if _, err := f.svc.Get(t.Context(), anon.Code, member); !errors.Is(err, link.ErrNotFound) {
		t.Fatalf("a member's Get of an anonymous link = %v, want ErrNotFound", err)
	}
	if err := f.svc.Delete(t.Context(), anon.Code, member); !errors.Is(err, link.ErrNotFound) {
		t.Fatalf("a member's Delete of an anonymous link = %v, want ErrNotFound", err)
	}
	page, err := f.svc.List(t.Context(), member, nil, 0)
	if err != nil || len(page.Links) != 0 {
		t.Fatalf("a member's List = %+v, %v; want nothing", page, err)
	}
	admin := link.Principal{UserID: 8, Admin: true, Scopes: link.AllScopes}
	if page, err := f.svc.List(t.Context(), admin, nil, 0); err != nil || len(page.Links) != 2 {
		t.Fatalf("an admin user's List = %d links, %v; want 2", len(page.Links), err)
	}
}
