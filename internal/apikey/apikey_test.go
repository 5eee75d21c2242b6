package apikey_test

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/password"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
)

type fixture struct {
	keys  *apikey.Service
	users *account.Service
	audit *audit.Log
	clock *servicetest.Clock
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	db := sqlitetest.Open(t)
	h, err := password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0)
	if err != nil {
		t.Fatal(err)
	}
	clock := servicetest.NewClock(time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC))
	log := audit.New(db, clock.Now, nil)
	return fixture{
		keys:  apikey.NewServiceWith(db, apikey.Options{Audit: log, Now: clock.Now}),
		users: account.New(db, account.Options{Hasher: h, Now: clock.Now}),
		audit: log,
		clock: clock,
	}
}

func (f fixture) user(t *testing.T, email string, role account.Role) account.User {
	t.Helper()
	u, err := f.users.Create(t.Context(), account.Operator, account.NewUser{Email: email, Password: "correct horse battery staple", Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (f fixture) auth(t *testing.T, token string) (link.Principal, error) {
	t.Helper()
	return f.keys.Authenticate(t.Context(), token)
}

func TestLegacyKeys(t *testing.T) {
	f := newFixture(t)
	for _, admin := range []bool{false, true} {
		k, token, err := f.keys.Create(t.Context(), "ci", admin)
		if err != nil {
			t.Fatal(err)
		}
		if k.UserID != 0 || k.Admin != admin || k.Scopes != apikey.LegacyScopes(admin) || !k.ExpiresAt.IsZero() {
			t.Fatalf("Create(admin=%v) = %+v", admin, k)
		}
		p, err := f.auth(t, token)
		want := link.Principal{KeyID: k.ID, Admin: admin, Scopes: apikey.LegacyScopes(admin)}
		if err != nil || p != want {
			t.Fatalf("Authenticate = %+v, %v; want %+v", p, err, want)
		}
	}
	if _, _, err := f.keys.Create(t.Context(), "  ", false); !errors.Is(err, apikey.ErrInvalidName) {
		t.Fatalf("Create(blank name) = %v", err)
	}
}

func TestUserKeys(t *testing.T) {
	f := newFixture(t)
	admin := f.user(t, "admin@example.com", account.RoleAdmin)
	other := f.user(t, "other-admin@example.com", account.RoleAdmin)
	member := f.user(t, "member@example.com", account.RoleMember)
	ctx := t.Context()

	mk, mtoken, err := f.keys.Issue(ctx, member.Principal(), apikey.IssueParams{Name: "laptop", UserID: member.ID})
	if err != nil {
		t.Fatal(err)
	}
	if mk.UserID != member.ID || mk.Scopes != link.ScopeLinksRead|link.ScopeLinksWrite || mk.Admin {
		t.Fatalf("member key = %+v", mk)
	}
	p, err := f.auth(t, mtoken)
	if err != nil || p != (link.Principal{KeyID: mk.ID, UserID: member.ID, Scopes: link.ScopeLinksRead | link.ScopeLinksWrite}) {
		t.Fatalf("member key acts as %+v, %v", p, err)
	}

	for name, tc := range map[string]struct {
		by   link.Principal
		p    apikey.IssueParams
		want error
	}{
		"member asks for admin":    {member.Principal(), apikey.IssueParams{Name: "x", UserID: member.ID, Scopes: link.AllScopes}, apikey.ErrScopeTooWide},
		"member, for another user": {member.Principal(), apikey.IssueParams{Name: "x", UserID: admin.ID}, apikey.ErrForbidden},
		"member, ownerless":        {member.Principal(), apikey.IssueParams{Name: "x"}, apikey.ErrForbidden},
		"read-only key asks write": {link.Principal{KeyID: 9, UserID: member.ID, Scopes: link.ScopeLinksRead}, apikey.IssueParams{Name: "x", UserID: member.ID}, apikey.ErrScopeTooWide},
		"expiry in the past":       {member.Principal(), apikey.IssueParams{Name: "x", UserID: member.ID, ExpiresAt: f.clock.Now()}, apikey.ErrInvalidExpiry},
		"unknown scope bit":        {admin.Principal(), apikey.IssueParams{Name: "x", UserID: admin.ID, Scopes: 1 << 6}, &link.Error{Code: "invalid_scope"}},
		"admin scope by non-admin": {link.Principal{UserID: admin.ID, Scopes: link.AllScopes}, apikey.IssueParams{Name: "x", UserID: admin.ID, Scopes: link.AllScopes}, apikey.ErrScopeTooWide},
		"nameless":                 {admin.Principal(), apikey.IssueParams{UserID: admin.ID}, apikey.ErrInvalidName},
	} {
		if _, _, err := f.keys.Issue(ctx, tc.by, tc.p); !errors.Is(err, tc.want) {
			t.Errorf("%s: Issue = %v, want %v", name, err, tc.want)
		}
	}

	// An admin's key with the admin scope acts as an admin only while its
	// user is one.
	ak, atoken, err := f.keys.Issue(ctx, admin.Principal(), apikey.IssueParams{Name: "ops", UserID: admin.ID, Scopes: link.AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	if ak.Admin {
		t.Fatal("a user's key carries the legacy admin flag, which earlier releases would honour whatever the user's role")
	}
	if p, err := f.auth(t, atoken); err != nil || !p.Admin || p.Scopes != link.AllScopes || p.UserID != admin.ID {
		t.Fatalf("admin key acts as %+v, %v", p, err)
	}
	if err := f.users.SetRole(ctx, other.Principal(), admin.ID, account.RoleMember); err != nil {
		t.Fatal(err)
	}
	if p, err := f.auth(t, atoken); err != nil || p.Admin || p.Scopes != link.ScopeLinksRead|link.ScopeLinksWrite {
		t.Fatalf("demoted admin's key acts as %+v, %v; want a member", p, err)
	}

	// A disabled user's keys stop working, and work again on enabling.
	if err := f.users.Disable(ctx, other.Principal(), member.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth(t, mtoken); !errors.Is(err, apikey.ErrUnauthenticated) {
		t.Fatalf("disabled user's key = %v, want ErrUnauthenticated", err)
	}
	if err := f.users.Enable(ctx, other.Principal(), member.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth(t, mtoken); err != nil {
		t.Fatalf("enabled user's key = %v", err)
	}
}

func TestKeyExpiry(t *testing.T) {
	f := newFixture(t)
	u := f.user(t, "a@example.com", account.RoleMember)
	k, token, err := f.keys.Issue(t.Context(), u.Principal(), apikey.IssueParams{Name: "temp", UserID: u.ID, ExpiresAt: f.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !k.ExpiresAt.Equal(f.clock.Now().Add(time.Hour)) {
		t.Fatalf("ExpiresAt = %v", k.ExpiresAt)
	}
	f.clock.Add(time.Hour - time.Second)
	if _, err := f.auth(t, token); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	f.clock.Add(time.Second)
	if _, err := f.auth(t, token); !errors.Is(err, apikey.ErrKeyExpired) {
		t.Fatalf("at expiry: %v, want ErrKeyExpired", err)
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	f := newFixture(t)
	k, token, err := f.keys.Create(t.Context(), "x", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "sl_", token[:len(token)-1], "xx" + token[2:], token + "A", "sl_" + "AAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := f.auth(t, bad); !errors.Is(err, apikey.ErrUnauthenticated) {
			t.Errorf("Authenticate(%q) = %v", bad, err)
		}
	}
	if err := f.keys.Revoke(t.Context(), k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth(t, token); !errors.Is(err, apikey.ErrUnauthenticated) {
		t.Fatalf("revoked key = %v", err)
	}
}

func TestListAndRevokeBy(t *testing.T) {
	f := newFixture(t)
	admin := f.user(t, "admin@example.com", account.RoleAdmin)
	alice := f.user(t, "alice@example.com", account.RoleMember)
	bob := f.user(t, "bob@example.com", account.RoleMember)
	ctx := t.Context()
	issue := func(u account.User) apikey.Key {
		k, _, err := f.keys.Issue(ctx, u.Principal(), apikey.IssueParams{Name: u.Email, UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ak, bk := issue(alice), issue(bob)
	service, _, err := f.keys.Create(ctx, "service", true)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(by link.Principal) []int64 {
		keys, err := f.keys.ListFor(ctx, by)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, k := range keys {
			out = append(out, k.ID)
		}
		return out
	}
	if got := ids(alice.Principal()); !slices.Equal(got, []int64{ak.ID}) {
		t.Fatalf("alice sees keys %v", got)
	}
	if got := ids(admin.Principal()); !slices.Equal(got, []int64{ak.ID, bk.ID, service.ID}) {
		t.Fatalf("the admin sees keys %v", got)
	}
	if got := ids(link.Principal{KeyID: service.ID, Scopes: link.ScopeLinksRead}); len(got) != 0 {
		t.Fatalf("an ownerless member key sees keys %v", got)
	}
	if err := f.keys.RevokeBy(ctx, alice.Principal(), bk.ID); !errors.Is(err, apikey.ErrKeyNotFound) {
		t.Fatalf("alice revoking bob's key = %v, want ErrKeyNotFound", err)
	}
	if err := f.keys.RevokeBy(ctx, alice.Principal(), ak.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.keys.RevokeBy(ctx, admin.Principal(), bk.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.keys.RevokeBy(ctx, admin.Principal(), 9999); !errors.Is(err, apikey.ErrKeyNotFound) {
		t.Fatalf("revoking an unknown key = %v", err)
	}

	es, _, err := f.audit.List(ctx, audit.Filter{TargetType: audit.TargetKey}, audit.Page{})
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		action audit.Action
		actor  int64
		target string
	}
	var got []rec
	for _, e := range es {
		got = append(got, rec{e.Action, e.ActorUserID, e.TargetID})
	}
	id := func(k apikey.Key) string { return strconv.FormatInt(k.ID, 10) }
	want := []rec{
		{audit.KeyRevoke, admin.ID, id(bk)},
		{audit.KeyRevoke, alice.ID, id(ak)},
		{audit.KeyCreate, 0, id(service)},
		{audit.KeyCreate, bob.ID, id(bk)},
		{audit.KeyCreate, alice.ID, id(ak)},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("audit log %+v, want %+v", got, want)
	}
}
