package link_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/shortcode"
	"github.com/shortlinks/shortlinks/internal/store/sqlite"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type fixture struct {
	svc   *link.Service
	db    *sqlite.DB
	perm  *shortcode.Permutation
	clock *servicetest.Clock
}

var testKey = bytes.Repeat([]byte{7}, shortcode.KeyLength)

// newService returns a Service over a real SQLite database in a temp dir,
// with the options changed by each of edits.
func newService(t *testing.T, edits ...func(*link.Options)) fixture {
	t.Helper()
	db := sqlitetest.Open(t)
	perm, err := shortcode.NewPermutation(testKey)
	if err != nil {
		t.Fatal(err)
	}
	c := servicetest.NewClock(mustTime(t, "2030-06-01T12:00:00Z"))
	opts := link.Options{
		URLRules: link.URLRules{SelfHosts: []string{"sho.rt"}},
		Reserved: []string{"api", "healthz"},
		Now:      c.Now,
	}
	for _, edit := range edits {
		edit(&opts)
	}
	svc := link.NewService(db, db, shortcode.NewGenerator(perm, db, 10), opts)
	return fixture{svc: svc, db: db, perm: perm, clock: c}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var le *link.Error
	if !errors.As(err, &le) || le.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func TestCreateGenerated(t *testing.T) {
	f := newService(t)
	seen := map[link.Code]bool{}
	for range 50 {
		l, err := f.svc.Create(t.Context(), link.CreateParams{URL: "https://example.com/x"})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Code) != shortcode.Length || seen[l.Code] {
			t.Fatalf("code %q: wrong length or repeated", l.Code)
		}
		seen[l.Code] = true
		if !l.ExpiresAt.IsZero() || !l.CreatedAt.Equal(f.clock.Now()) {
			t.Fatalf("link %+v: want no expiry and creation at %v", l, f.clock.Now())
		}
		got, err := f.svc.Resolve(t.Context(), l.Code)
		if err != nil || got.URL != "https://example.com/x" {
			t.Fatalf("Resolve(%s) = %+v, %v", l.Code, got, err)
		}
	}
}

func TestCreateSkipsCodeHeldByAlias(t *testing.T) {
	f := newService(t)
	// The counter starts at 1, so the first generated code is Encode(1).
	first, err := f.perm.Encode(1)
	if err != nil {
		t.Fatal(err)
	}
	alias, err := f.svc.Create(t.Context(), link.CreateParams{URL: "https://alias.example/", Alias: link.Code(first)})
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.svc.Create(t.Context(), link.CreateParams{URL: "https://generated.example/"})
	if err != nil {
		t.Fatal(err)
	}
	second, _ := f.perm.Encode(2)
	if string(l.Code) != second {
		t.Fatalf("generated code %s, want %s (the next id after the alias's)", l.Code, second)
	}
	got, err := f.svc.Resolve(t.Context(), alias.Code)
	if err != nil || got.URL != "https://alias.example/" {
		t.Fatalf("alias was overwritten: %+v, %v", got, err)
	}
}

func TestCreateAlias(t *testing.T) {
	f := newService(t)
	if _, err := f.svc.Create(t.Context(), link.CreateParams{URL: "https://a.example/", Alias: "Docs"}); err != nil {
		t.Fatal(err)
	}
	// Aliases are case-sensitive: "docs" is a different code.
	if _, err := f.svc.Create(t.Context(), link.CreateParams{URL: "https://b.example/", Alias: "docs"}); err != nil {
		t.Fatalf("lower-case variant of a taken alias: %v", err)
	}
	_, err := f.svc.Create(t.Context(), link.CreateParams{URL: "https://c.example/", Alias: "Docs"})
	wantCode(t, err, "alias_taken")
	var le *link.Error
	if errors.As(err, &le) && le.Kind != link.Conflict {
		t.Fatalf("alias_taken has kind %v, want Conflict", le.Kind)
	}
	_, err = f.svc.Create(t.Context(), link.CreateParams{URL: "https://c.example/", Alias: "API"})
	wantCode(t, err, "alias_reserved")
	_, err = f.svc.Create(t.Context(), link.CreateParams{URL: "https://c.example/", Alias: "a b"})
	wantCode(t, err, "invalid_alias")
	_, err = f.svc.Create(t.Context(), link.CreateParams{URL: "javascript:alert(1)", Alias: "fine"})
	wantCode(t, err, "url_scheme_not_allowed")
}

func TestDeletedAliasIsNeverReissued(t *testing.T) {
	f := newService(t)
	owner := link.Principal{KeyID: 3}
	if _, err := f.svc.Create(t.Context(), link.CreateParams{URL: "https://a.example/", Alias: "once", Owner: owner}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Delete(t.Context(), "once", owner); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Resolve(t.Context(), "once")
	wantCode(t, err, "not_found")
	_, err = f.svc.Create(t.Context(), link.CreateParams{URL: "https://b.example/", Alias: "once"})
	wantCode(t, err, "alias_taken")
}

func TestExpiry(t *testing.T) {
	f := newService(t)
	now := f.clock.Now()
	tests := []struct {
		name string
		p    link.CreateParams
		code string
		want time.Time
	}{
		{"expires_in", link.CreateParams{ExpiresIn: time.Hour}, "", now.Add(time.Hour)},
		{"expires_at", link.CreateParams{ExpiresAt: now.Add(2 * time.Hour)}, "", now.Add(2 * time.Hour)},
		{"expires_at in the past", link.CreateParams{ExpiresAt: now.Add(-time.Second)}, "expiry_in_past", time.Time{}},
		{"expires_at now", link.CreateParams{ExpiresAt: now}, "expiry_in_past", time.Time{}},
		{"both", link.CreateParams{ExpiresAt: now.Add(time.Hour), ExpiresIn: time.Hour}, "conflicting_expiry", time.Time{}},
		{"negative expires_in", link.CreateParams{ExpiresIn: -time.Second}, "invalid_expiry", time.Time{}},
		{"beyond year 9999", link.CreateParams{ExpiresAt: mustTime(t, "9999-06-01T00:00:00Z")}, "invalid_expiry", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.URL = "https://example.com/"
			l, err := f.svc.Create(t.Context(), tt.p)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil || !l.ExpiresAt.Equal(tt.want) {
				t.Fatalf("Create = %+v, %v; want expiry %v", l, err, tt.want)
			}
		})
	}

	l, err := f.svc.Create(t.Context(), link.CreateParams{URL: "https://example.com/", ExpiresIn: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Resolve(t.Context(), l.Code); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	f.clock.Add(time.Minute)
	_, err = f.svc.Resolve(t.Context(), l.Code)
	if !errors.Is(err, link.ErrExpired) {
		t.Fatalf("at expiry: %v, want ErrExpired", err)
	}
}

func TestResolveRejectsImpossibleCodes(t *testing.T) {
	f := newService(t)
	for _, c := range []link.Code{"", "ab", "has space", "x/y", "a.b"} {
		if _, err := f.svc.Resolve(t.Context(), c); !errors.Is(err, link.ErrNotFound) {
			t.Errorf("Resolve(%q) = %v, want ErrNotFound", c, err)
		}
	}
}

func TestOwnership(t *testing.T) {
	f := newService(t)
	alice, bob, admin := link.Principal{KeyID: 1}, link.Principal{KeyID: 2}, link.Principal{KeyID: 3, Admin: true}
	a, err := f.svc.Create(t.Context(), link.CreateParams{URL: "https://alice.example/", Owner: alice})
	if err != nil {
		t.Fatal(err)
	}
	anon, err := f.svc.Create(t.Context(), link.CreateParams{URL: "https://anon.example/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Get(t.Context(), a.Code, alice); err != nil {
		t.Fatalf("owner Get: %v", err)
	}
	if _, err := f.svc.Get(t.Context(), a.Code, bob); !errors.Is(err, link.ErrNotFound) {
		t.Fatalf("other key Get = %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Get(t.Context(), anon.Code, link.Principal{}); !errors.Is(err, link.ErrNotFound) {
		t.Fatalf("anonymous Get = %v, want ErrNotFound", err)
	}
	if err := f.svc.Delete(t.Context(), a.Code, bob); !errors.Is(err, link.ErrNotFound) {
		t.Fatalf("other key Delete = %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Get(t.Context(), anon.Code, admin); err != nil {
		t.Fatalf("admin Get of an anonymous link: %v", err)
	}

	page, err := f.svc.List(t.Context(), alice, nil, 0)
	if err != nil || len(page.Links) != 1 || page.Links[0].Code != a.Code || page.Next != nil {
		t.Fatalf("alice's List = %+v, %v", page, err)
	}
	page, err = f.svc.List(t.Context(), admin, nil, 0)
	if err != nil || len(page.Links) != 2 {
		t.Fatalf("admin List = %+v, %v", page, err)
	}
	if err := f.svc.Delete(t.Context(), a.Code, admin); err != nil {
		t.Fatalf("admin Delete: %v", err)
	}
}

func TestListPages(t *testing.T) {
	f := newService(t)
	owner := link.Principal{KeyID: 9}
	var made []link.Code
	for range 7 {
		l, err := f.svc.Create(t.Context(), link.CreateParams{URL: "https://example.com/", Owner: owner})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, l.Code)
		f.clock.Add(time.Millisecond)
	}
	var got []link.Code
	var after *link.Cursor
	for pages := 0; ; pages++ {
		if pages > 4 {
			t.Fatal("pagination does not end")
		}
		page, err := f.svc.List(t.Context(), owner, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range page.Links {
			got = append(got, l.Code)
		}
		if page.Next == nil {
			break
		}
		after = page.Next
	}
	if len(got) != len(made) {
		t.Fatalf("listed %d links, want %d", len(got), len(made))
	}
	for i := range made {
		if got[i] != made[len(made)-1-i] {
			t.Fatalf("listed %v, want newest first of %v", got, made)
		}
	}
	_, err := f.svc.List(t.Context(), owner, nil, link.MaxPageSize+1)
	wantCode(t, err, "invalid_limit")
}

// screenFunc is a link.Screen made of a function.
type screenFunc func(u string) (string, bool)

func (f screenFunc) Blocked(u string) (string, bool) { return f(u) }

func TestCreateScreenAndAfterCreate(t *testing.T) {
	var screened []string
	var created []link.Link
	f := newService(t, func(o *link.Options) {
		o.URLRules.ShortenerHosts = link.DefaultShortenerHosts()
		o.Screen = screenFunc(func(u string) (string, bool) {
			screened = append(screened, u)
			return `evil.example is on the blocklist "test"`, strings.Contains(u, "://evil.example/")
		})
		o.AfterCreate = func(l link.Link) { created = append(created, l) }
	})

	// The screen sees the URL as it will be stored.
	l, err := f.svc.Create(t.Context(), link.CreateParams{URL: "HTTPS://Good.Example:443/ü"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://good.example/%C3%BC"; l.URL != want || len(screened) != 1 || screened[0] != want {
		t.Fatalf("stored %q, screened %q; want %q for both", l.URL, screened, want)
	}
	if len(created) != 1 || !reflect.DeepEqual(created[0], l) {
		t.Fatalf("AfterCreate saw %+v, want [%+v]", created, l)
	}

	// A blocked destination, in any spelling, is refused with the reason,
	// and nothing is stored or handed on.
	_, err = f.svc.Create(t.Context(), link.CreateParams{URL: "https://EVIL.%65xample/x", Alias: "blocked"})
	wantCode(t, err, "url_blocked")
	var le *link.Error
	if !errors.As(err, &le) || le.Field != "url" || le.Kind != link.Invalid || !strings.Contains(le.Message, `blocklist "test"`) {
		t.Fatalf("blocked create: %#v", err)
	}
	if _, err := f.svc.Get(t.Context(), "blocked", link.Principal{Admin: true}); !errors.Is(err, link.ErrNotFound) {
		t.Fatalf("a blocked link was stored: %v", err)
	}
	// Rules run before the screen: a short link never reaches it.
	_, err = f.svc.Create(t.Context(), link.CreateParams{URL: "https://bit.ly/x"})
	wantCode(t, err, "url_is_short_link")
	if len(screened) != 2 || len(created) != 1 {
		t.Fatalf("screened %q, created %d links; want 2 screened and 1 created", screened, len(created))
	}
	// A failed insert is not reported as created.
	if _, err := f.svc.Create(t.Context(), link.CreateParams{URL: "https://good.example/", Alias: l.Code}); !errors.Is(err, link.ErrCodeTaken) {
		t.Fatalf("duplicate alias: %v", err)
	}
	if len(created) != 1 {
		t.Fatalf("AfterCreate called for a failed create: %+v", created)
	}
}
