package link_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/shortcode"
)

// edited is what AfterEdit saw.
type edited struct {
	before, after link.Link
	by            link.Principal
}

func TestUpdate(t *testing.T) {
	var seen []edited
	f := newService(t)
	svc := withEditor(t, f, &seen)
	ctx := t.Context()
	alice := link.Principal{KeyID: 1, UserID: 10, Scopes: link.ScopeLinksRead | link.ScopeLinksWrite}
	aliceOtherKey := link.Principal{KeyID: 2, UserID: 10, Scopes: alice.Scopes}
	bob := link.Principal{KeyID: 3, UserID: 11, Scopes: alice.Scopes}
	service := link.Principal{KeyID: 4, Scopes: alice.Scopes}
	admin := link.Principal{UserID: 12, Admin: true, Scopes: link.AllScopes}

	l, err := svc.Create(ctx, link.CreateParams{URL: "https://example.com/a", Alias: "alices", Owner: alice,
		Options: &link.Patch{Title: link.To("First"), Tags: link.To([]string{"x"})}})
	if err != nil {
		t.Fatal(err)
	}
	if l.UserID != 10 || l.Owner != 1 || l.Title != "First" {
		t.Fatalf("created %+v", l)
	}

	// The owner, through any of their keys, and an admin may edit; others
	// see no such link.
	for _, p := range []link.Principal{alice, aliceOtherKey, admin} {
		if _, err := svc.Update(ctx, "alices", link.Patch{Title: link.To("by " + string(rune('a'+p.KeyID)))}, p); err != nil {
			t.Errorf("Update by %+v: %v", p, err)
		}
	}
	for _, p := range []link.Principal{bob, service, {}} {
		if _, err := svc.Update(ctx, "alices", link.Patch{Title: link.To("stolen")}, p); !errors.Is(err, link.ErrNotFound) {
			t.Errorf("Update by %+v = %v, want ErrNotFound", p, err)
		}
	}
	if len(seen) != 3 || seen[2].by.UserID != 12 || seen[2].after.Title != "by a" {
		t.Fatalf("AfterEdit saw %+v", seen)
	}

	// Absent fields stay; null clears; values are checked and normalised.
	got, err := svc.Update(ctx, "alices", link.Patch{
		URL: link.To("HTTPS://Example.COM/b"), Tags: link.To([]string{" B ", "a", "b"}), MaxVisits: link.To[int64](3),
		Password: link.To("pw"), ForwardQuery: link.To(true),
		Rules: link.To([]link.Rule{{When: link.Condition{Device: "IOS", Country: "de"}, URL: "https://apps.example/"}}),
	}, alice)
	if err != nil {
		t.Fatal(err)
	}
	if got.URL != "https://example.com/b" || !slices.Equal(got.Tags, []string{"a", "b"}) || got.MaxVisits != 3 ||
		got.PasswordHash != "hashed:pw" || !got.ForwardQuery || got.Rules[0].When != (link.Condition{Device: "ios", Country: "DE"}) ||
		got.Title != "by a" {
		t.Errorf("after the edit: %+v", got)
	}
	got, err = svc.Update(ctx, "alices", link.Patch{Title: link.Cleared[string](), Tags: link.Cleared[[]string](),
		MaxVisits: link.Cleared[int64](), Password: link.Cleared[string](), Rules: link.Cleared[[]link.Rule]()}, alice)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "" || got.Tags != nil || got.MaxVisits != 0 || got.PasswordHash != "" || got.Rules != nil || !got.ForwardQuery {
		t.Errorf("after clearing: %+v", got)
	}
	if g, err := svc.Get(ctx, "alices", alice); err != nil || g.Title != "" || !g.ForwardQuery || g.URL != got.URL {
		t.Errorf("Get after the edits: %+v, %v", g, err)
	}

	// Disabling stops the redirect, keeps the link for its owner, and
	// enabling brings it back.
	f.clock.Add(time.Minute)
	got, err = svc.Update(ctx, "alices", link.Patch{Disabled: link.To(true), DisabledReason: link.To(" spam ")}, admin)
	if err != nil || got.DisabledAt.IsZero() || got.DisabledReason != "spam" {
		t.Fatalf("disable: %+v, %v", got, err)
	}
	if _, err := svc.Resolve(ctx, "alices"); !errors.Is(err, link.ErrDisabled) {
		t.Errorf("Resolve of a disabled link = %v", err)
	}
	if got, err = svc.Update(ctx, "alices", link.Patch{Disabled: link.To(false)}, alice); err != nil || !got.DisabledAt.IsZero() || got.DisabledReason != "" {
		t.Errorf("enable: %+v, %v", got, err)
	}
	if _, err := svc.Resolve(ctx, "alices"); err != nil {
		t.Errorf("Resolve after enabling = %v", err)
	}

	// valid_from ahead answers as not yet valid, then redirects.
	if _, err := svc.Update(ctx, "alices", link.Patch{ValidFrom: link.To(f.clock.Now().Add(time.Hour))}, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Resolve(ctx, "alices"); !errors.Is(err, link.ErrNotYetValid) {
		t.Errorf("Resolve before valid_from = %v", err)
	}
	f.clock.Add(time.Hour)
	if _, err := svc.Resolve(ctx, "alices"); err != nil {
		t.Errorf("Resolve after valid_from = %v", err)
	}

	for _, tt := range []struct {
		p    link.Patch
		code string
	}{
		{link.Patch{URL: link.Cleared[string]()}, "missing_url"},
		{link.Patch{URL: link.To("ftp://x.example/")}, "url_scheme_not_allowed"},
		{link.Patch{URL: link.To("https://sho.rt/loop")}, "url_self_reference"},
		{link.Patch{ExpiresAt: link.To(f.clock.Now().Add(-time.Second))}, "expiry_in_past"},
		{link.Patch{Title: link.To(strings.Repeat("t", link.MaxTitleLength+1))}, "invalid_title"},
		{link.Patch{Title: link.To("a\u202eb")}, "invalid_title"},
		{link.Patch{Tags: link.To(make([]string, link.MaxTags+1))}, "invalid_tags"},
		{link.Patch{Tags: link.To([]string{"  "})}, "invalid_tags"},
		{link.Patch{MaxVisits: link.To[int64](0)}, "invalid_max_visits"},
		{link.Patch{Password: link.To("")}, "invalid_password"},
		{link.Patch{DisabledReason: link.To("why")}, "invalid_disabled_reason"},
		{link.Patch{ValidFrom: link.To(f.clock.Now().Add(2 * time.Hour)), ExpiresAt: link.To(f.clock.Now().Add(time.Hour))}, "invalid_valid_from"},
		{link.Patch{Rules: link.To([]link.Rule{{URL: "https://x.example/"}})}, "invalid_rules"},
		{link.Patch{Rules: link.To([]link.Rule{{When: link.Condition{Device: "tv"}, URL: "https://x.example/"}})}, "invalid_rules"},
		{link.Patch{Rules: link.To([]link.Rule{{When: link.Condition{Country: "DEU"}, URL: "https://x.example/"}})}, "invalid_rules"},
		{link.Patch{Rules: link.To([]link.Rule{{When: link.Condition{Language: "e1"}, URL: "https://x.example/"}})}, "invalid_rules"},
		{link.Patch{Rules: link.To([]link.Rule{{When: link.Condition{Device: "ios"}, URL: "javascript:x"}})}, "url_scheme_not_allowed"},
	} {
		before, _ := svc.Get(ctx, "alices", alice)
		_, err := svc.Update(ctx, "alices", tt.p, alice)
		wantCode(t, err, tt.code)
		if after, _ := svc.Get(ctx, "alices", alice); after.URL != before.URL || after.Title != before.Title {
			t.Errorf("a refused edit (%s) changed the link", tt.code)
		}
	}
	var le *link.Error
	_, err = svc.Update(ctx, "alices", link.Patch{Rules: link.To([]link.Rule{{When: link.Condition{Device: "ios"}, URL: "ftp://x/"}})}, alice)
	if !errors.As(err, &le) || le.Field != "rules[0].url" {
		t.Errorf("a bad rule URL names field %q", le.Field)
	}
	if _, err := svc.Update(ctx, "nope", link.Patch{}, admin); !errors.Is(err, link.ErrNotFound) {
		t.Errorf("Update of a missing code = %v", err)
	}
}

func TestDisableTo(t *testing.T) {
	var seen []edited
	f := newService(t)
	svc := withEditor(t, f, &seen)
	ctx := t.Context()
	for alias, u := range map[link.Code]string{
		"bad1": "https://evil.example/x", "bad2": "https://cdn.EVIL.example:8443/", "good": "https://good.example/?next=https://evil.example/",
		"bad3": "https://xn--bcher-kva.example/", "other": "https://notevil.example/",
	} {
		if _, err := svc.Create(ctx, link.CreateParams{URL: u, Alias: alias}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := svc.DisableTo(ctx, []string{"EVIL.example.", "bücher.example", "not a host"}, "on the blocklist")
	if err != nil || n != 3 {
		t.Fatalf("DisableTo = %d, %v; want 3", n, err)
	}
	for _, c := range []link.Code{"bad1", "bad2", "bad3"} {
		if _, err := svc.Resolve(ctx, c); !errors.Is(err, link.ErrDisabled) {
			t.Errorf("Resolve(%s) = %v, want ErrDisabled", c, err)
		}
	}
	for _, c := range []link.Code{"good", "other"} {
		if _, err := svc.Resolve(ctx, c); err != nil {
			t.Errorf("Resolve(%s) = %v", c, err)
		}
	}
	if len(seen) != 3 || seen[0].by != (link.Principal{}) || seen[0].after.DisabledReason != "on the blocklist" || !seen[0].before.DisabledAt.IsZero() {
		t.Errorf("AfterEdit saw %+v", seen)
	}
	// Again: nothing more to disable.
	if n, err := svc.DisableTo(ctx, []string{"evil.example"}, "again"); err != nil || n != 0 {
		t.Errorf("second DisableTo = %d, %v", n, err)
	}
}

func TestCreateBatch(t *testing.T) {
	f := newService(t)
	ctx := t.Context()
	var created []link.Link
	loader := link.NewLoader(f.db, shortcode.NewGenerator(f.perm, f.db, 10))
	svc := link.NewService(f.db, f.db, shortcode.NewGenerator(f.perm, f.db, 10), link.Options{
		URLRules: link.URLRules{SelfHosts: []string{"sho.rt"}}, Now: f.clock.Now, Editor: f.db, Loader: loader,
		AfterCreate: func(l link.Link) { created = append(created, l) },
	})
	if _, err := svc.Create(ctx, link.CreateParams{URL: "https://example.com/", Alias: "taken"}); err != nil {
		t.Fatal(err)
	}
	created = nil
	owner := link.Principal{KeyID: 5, UserID: 6}
	for _, tc := range []struct {
		name  string
		items []link.CreateParams
		want  []string // "" for created, else the error code
	}{
		{"all good, one transaction", []link.CreateParams{
			{URL: "https://example.com/1", Owner: owner, Options: &link.Patch{Tags: link.To([]string{"batch"})}},
			{URL: "https://example.com/2", Alias: "batch-two", Owner: owner},
		}, []string{"", ""}},
		{"bad items fail alone", []link.CreateParams{
			{URL: "ftp://example.com/"}, {URL: "https://example.com/3", Alias: "dup"}, {URL: "https://example.com/4", Alias: "dup"},
			{URL: "https://example.com/5", Options: &link.Patch{MaxVisits: link.To[int64](-1)}},
		}, []string{"url_scheme_not_allowed", "", "alias_taken", "invalid_max_visits"}},
		{"a taken alias falls back to one at a time", []link.CreateParams{
			{URL: "https://example.com/6"}, {URL: "https://example.com/7", Alias: "taken"}, {URL: "https://example.com/8", Alias: "free-one"},
		}, []string{"", "alias_taken", ""}},
	} {
		res, err := svc.CreateBatch(ctx, tc.items)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i, r := range res {
			switch {
			case tc.want[i] == "" && r.Err != nil:
				t.Errorf("%s: item %d: %v", tc.name, i, r.Err)
			case tc.want[i] == "":
				got, err := svc.Get(ctx, r.Link.Code, link.Principal{Admin: true})
				if err != nil || got.URL != tc.items[i].URL || got.UserID != tc.items[i].Owner.UserID {
					t.Errorf("%s: item %d stored as %+v, %v", tc.name, i, got, err)
				}
			default:
				wantCode(t, r.Err, tc.want[i])
			}
		}
	}
	if len(created) != 5 {
		t.Errorf("AfterCreate saw %d links, want 5", len(created))
	}
	if g, _ := svc.Get(ctx, "batch-two", owner); g.Code != "batch-two" {
		t.Error("the owner cannot see a link of their batch")
	}
	if _, err := svc.CreateBatch(ctx, make([]link.CreateParams, link.MaxBatch+1)); err == nil {
		t.Error("a batch over the limit was taken")
	}
}

// withEditor returns a Service like f's with f's database as its Editor.
func withEditor(t *testing.T, f fixture, seen *[]edited) *link.Service {
	t.Helper()
	return link.NewService(f.db, f.db, shortcode.NewGenerator(f.perm, f.db, 10), link.Options{
		URLRules:     link.URLRules{SelfHosts: []string{"sho.rt"}},
		Now:          f.clock.Now,
		Editor:       f.db,
		AfterEdit:    func(before, after link.Link, by link.Principal) { *seen = append(*seen, edited{before, after, by}) },
		HashPassword: func(_ context.Context, s string) (string, error) { return "hashed:" + s, nil },
	})
}
