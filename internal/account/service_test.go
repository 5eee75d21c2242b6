package account_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/link"
)

func TestCreate(t *testing.T) {
	f := newFixture(t, account.Options{})
	u, err := f.svc.Create(t.Context(), account.Operator, account.NewUser{
		Email: " Alice@Example.com", Password: goodPassword,
		Domains: []string{"Go.Example.com", "bücher.example", "go.example.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.Email != "alice@example.com" || u.Role != account.RoleMember || !u.CreatedAt.Equal(f.clock.Now()) ||
		!slices.Equal(u.Domains, []string{"go.example.com", "xn--bcher-kva.example"}) {
		t.Fatalf("Create = %+v", u)
	}
	got, err := f.svc.Get(t.Context(), account.Operator, u.ID)
	if err != nil || got.Email != u.Email || !slices.Equal(got.Domains, u.Domains) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	es := f.entries(t, strconv.FormatInt(u.ID, 10))
	if len(es) != 1 || es[0].Action != audit.UserCreate || es[0].ActorUserID != 0 || es[0].Detail["email"] != "alice@example.com" {
		t.Fatalf("audit entries %+v, want one user.create by the operator", es)
	}
	if _, hash, err := f.db.UserByID(t.Context(), u.ID); err != nil || !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, goodPassword) {
		t.Fatalf("stored hash %q, %v", hash, err)
	}

	for _, tc := range []struct {
		name string
		nu   account.NewUser
		code string
	}{
		{"taken, other case", account.NewUser{Email: "ALICE@example.com", Password: goodPassword}, "email_taken"},
		{"bad email", account.NewUser{Email: "alice", Password: goodPassword}, "invalid_email"},
		{"short password", account.NewUser{Email: "b@example.com", Password: "eleven chrs"}, "invalid_password"},
		{"long password", account.NewUser{Email: "b@example.com", Password: strings.Repeat("x", 257)}, "invalid_password"},
		{"control character", account.NewUser{Email: "b@example.com", Password: goodPassword + "\x00"}, "invalid_password"},
		{"bad role", account.NewUser{Email: "b@example.com", Password: goodPassword, Role: "owner"}, "invalid_role"},
		{"bad domain", account.NewUser{Email: "b@example.com", Password: goodPassword, Domains: []string{"exa mple.com"}}, "invalid_domain"},
	} {
		_, err := f.svc.Create(t.Context(), account.Operator, tc.nu)
		var le *link.Error
		if !errors.As(err, &le) || le.Code != tc.code {
			t.Errorf("%s: Create = %v, want %s", tc.name, err, tc.code)
		}
	}
	// Twelve characters are enough, counted as characters, not bytes.
	if _, err := f.svc.Create(t.Context(), account.Operator, account.NewUser{Email: "c@example.com", Password: "ééééééééééé"}); !errors.Is(err, &link.Error{Code: "invalid_password"}) {
		t.Errorf("eleven two-byte characters = %v, want invalid_password", err)
	}
	if _, err := f.svc.Create(t.Context(), account.Operator, account.NewUser{Email: "c@example.com", Password: "éééééééééééé"}); err != nil {
		t.Errorf("twelve two-byte characters: %v", err)
	}
}

func TestOnlyAdminsManageUsers(t *testing.T) {
	f := newFixture(t, account.Options{})
	admin := f.mustCreate(t, "admin@example.com", account.RoleAdmin)
	member := f.mustCreate(t, "member@example.com", account.RoleMember)
	other := f.mustCreate(t, "other@example.com", account.RoleMember)
	byMember := member.Principal()
	// An admin user's key without the admin scope acts as a member.
	byScopedKey := link.Principal{KeyID: 5, UserID: admin.ID, Scopes: link.ScopeLinksRead | link.ScopeLinksWrite}
	for _, by := range []link.Principal{byMember, byScopedKey, {}} {
		ctx := t.Context()
		for name, err := range map[string]error{
			"Create": func() error {
				_, err := f.svc.Create(ctx, by, account.NewUser{Email: "x@example.com", Password: goodPassword})
				return err
			}(),
			"List":          func() error { _, err := f.svc.List(ctx, by, 0, 0); return err }(),
			"ByEmail":       func() error { _, err := f.svc.ByEmail(ctx, by, "other@example.com"); return err }(),
			"Get(other)":    func() error { _, err := f.svc.Get(ctx, by, other.ID); return err }(),
			"Disable":       f.svc.Disable(ctx, by, other.ID),
			"Enable":        f.svc.Enable(ctx, by, other.ID),
			"SetRole":       f.svc.SetRole(ctx, by, member.ID, account.RoleAdmin),
			"SetDomains":    f.svc.SetDomains(ctx, by, member.ID, nil),
			"ResetPassword": f.svc.ResetPassword(ctx, by, other.ID, goodPassword+"!"),
			"SignOut(other)": func() error {
				_, err := f.svc.SignOutEverywhere(ctx, by, other.ID)
				return err
			}(),
		} {
			if !errors.Is(err, account.ErrForbidden) {
				t.Errorf("%s by %+v = %v, want ErrForbidden", name, by, err)
			}
		}
	}
	// Members may read themselves and sign themselves out.
	if u, err := f.svc.Get(t.Context(), byMember, member.ID); err != nil || u.ID != member.ID {
		t.Errorf("Get(self) = %+v, %v", u, err)
	}
	if _, err := f.svc.SignOutEverywhere(t.Context(), byMember, member.ID); err != nil {
		t.Errorf("SignOutEverywhere(self) = %v", err)
	}
	if u, err := f.svc.Get(t.Context(), admin.Principal(), member.ID); err != nil || u.ID != member.ID {
		t.Errorf("Get by an admin = %+v, %v", u, err)
	}
}

func TestManageUsers(t *testing.T) {
	f := newFixture(t, account.Options{})
	admin := f.mustCreate(t, "admin@example.com", account.RoleAdmin)
	by := admin.Principal()
	bob := f.mustCreate(t, "bob@example.com", account.RoleMember)
	ctx := t.Context()

	if err := f.svc.SetRole(ctx, by, bob.ID, "owner"); !errors.Is(err, account.ErrInvalidRole) {
		t.Fatalf("SetRole(owner) = %v", err)
	}
	if err := f.svc.SetRole(ctx, by, bob.ID, account.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetRole(ctx, by, admin.ID, account.RoleMember); err != nil {
		t.Fatalf("demoting one of two admins: %v", err)
	}
	if err := f.svc.Disable(ctx, by, bob.ID); !errors.Is(err, account.ErrLastAdmin) {
		t.Fatalf("disabling the last admin = %v, want ErrLastAdmin", err)
	}
	if err := f.svc.SetRole(ctx, by, bob.ID, account.RoleMember); !errors.Is(err, account.ErrLastAdmin) {
		t.Fatalf("demoting the last admin = %v, want ErrLastAdmin", err)
	}
	if err := f.svc.SetDomains(ctx, by, bob.ID, []string{"B.example", "a.example"}); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.svc.ByEmail(ctx, by, "BOB@example.com"); !slices.Equal(u.Domains, []string{"a.example", "b.example"}) {
		t.Fatalf("domains %v", u.Domains)
	}
	if err := f.svc.SetDomains(ctx, by, bob.ID, []string{"-bad-"}); !errors.Is(err, &link.Error{Code: "invalid_domain"}) {
		t.Fatalf("SetDomains(bad) = %v", err)
	}
	if err := f.svc.SetRole(ctx, by, admin.ID, account.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Disable(ctx, by, bob.ID); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.svc.Get(ctx, by, bob.ID); !u.Disabled() {
		t.Fatal("not disabled")
	}
	if err := f.svc.Enable(ctx, by, bob.ID); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.svc.Get(ctx, by, bob.ID); u.Disabled() {
		t.Fatal("still disabled")
	}
	if err := f.svc.Disable(ctx, by, 9999); !errors.Is(err, account.ErrUserNotFound) {
		t.Fatalf("Disable(unknown) = %v", err)
	}
	if _, err := f.svc.ByEmail(ctx, by, "nobody@example.com"); !errors.Is(err, account.ErrUserNotFound) {
		t.Fatalf("ByEmail(unknown) = %v", err)
	}

	users, err := f.svc.List(ctx, by, 0, 1)
	if err != nil || len(users) != 1 || users[0].ID != admin.ID {
		t.Fatalf("List(limit 1) = %v, %v", users, err)
	}
	if users, err = f.svc.List(ctx, by, admin.ID, 0); err != nil || len(users) != 1 || users[0].ID != bob.ID {
		t.Fatalf("List(after admin) = %v, %v", users, err)
	}
	if _, err := f.svc.List(ctx, by, 0, account.MaxPageSize+1); !errors.Is(err, &link.Error{Code: "invalid_limit"}) {
		t.Fatalf("List(too many) = %v", err)
	}

	var actions []audit.Action
	for _, e := range f.entries(t, strconv.FormatInt(bob.ID, 10)) {
		actions = append(actions, e.Action)
		if e.Action != audit.UserCreate && e.ActorUserID != admin.ID {
			t.Errorf("%s recorded with actor %d, want %d", e.Action, e.ActorUserID, admin.ID)
		}
	}
	want := []audit.Action{audit.UserCreate, audit.UserRole, audit.UserDomains, audit.UserDisable, audit.UserEnable}
	if !slices.Equal(actions, want) {
		t.Fatalf("audit actions on bob %v, want %v (refused changes recorded nothing)", actions, want)
	}
}

func TestPasswords(t *testing.T) {
	f := newFixture(t, account.Options{})
	admin := f.mustCreate(t, "admin@example.com", account.RoleAdmin)
	bob := f.mustCreate(t, "bob@example.com", account.RoleMember)
	ctx := t.Context()

	if err := f.svc.ResetPassword(ctx, admin.Principal(), bob.ID, "short"); !errors.Is(err, &link.Error{Code: "invalid_password"}) {
		t.Fatalf("ResetPassword(short) = %v", err)
	}
	if err := f.svc.ResetPassword(ctx, admin.Principal(), bob.ID, "a new password for bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SignIn(ctx, "bob@example.com", goodPassword, ""); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("old password after reset = %v", err)
	}
	if _, err := f.svc.SignIn(ctx, "bob@example.com", "a new password for bob", ""); err != nil {
		t.Fatalf("new password after reset: %v", err)
	}
	if u, _ := f.svc.Get(ctx, admin.Principal(), bob.ID); u.SessionEpoch != 1 {
		t.Fatalf("session epoch after reset %d, want 1: a reset ends every session", u.SessionEpoch)
	}

	self := bob.Principal()
	if err := f.svc.ChangePassword(ctx, self, "wrong current password", "yet another password"); !errors.Is(err, account.ErrInvalidCredentials) {
		t.Fatalf("ChangePassword(wrong current) = %v", err)
	}
	if err := f.svc.ChangePassword(ctx, link.Principal{KeyID: 3, UserID: bob.ID, Scopes: link.AllScopes}, "a new password for bob", "yet another password"); !errors.Is(err, account.ErrNotSignedIn) {
		t.Fatalf("ChangePassword with a key = %v, want ErrNotSignedIn", err)
	}
	if err := f.svc.ChangePassword(ctx, self, "a new password for bob", "yet another password"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SignIn(ctx, "bob@example.com", "yet another password", ""); err != nil {
		t.Fatalf("changed password: %v", err)
	}
	var actions []audit.Action
	for _, e := range f.entries(t, strconv.FormatInt(bob.ID, 10)) {
		actions = append(actions, e.Action)
		if e.Detail["password"] != nil || strings.Contains(strings.ToLower(e.TargetID), "password") {
			t.Errorf("audit entry %+v holds a password", e)
		}
	}
	if !slices.Equal(actions, []audit.Action{audit.UserCreate, audit.UserPassword, audit.UserPassword}) {
		t.Fatalf("audit actions %v", actions)
	}
}
