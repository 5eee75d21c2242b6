package account_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/password"
	"github.com/shortlinks/shortlinks/internal/ratelimit"
	"github.com/shortlinks/shortlinks/internal/store/postgres"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
)

// Both of the project's limiters fit account.Limiter.
var (
	_ account.Limiter = (*ratelimit.Local)(nil)
	_ account.Limiter = (*ratelimit.Shared)(nil)
)

// TestSignInFailuresLookAlike checks that every way of failing to sign in
// gives the same error and costs exactly one password hash, as success
// does, so that neither the answer nor the work done tells them apart.
func TestSignInFailuresLookAlike(t *testing.T) {
	f := newFixture(t, account.Options{})
	admin := f.mustCreate(t, "admin@example.com", account.RoleAdmin)
	f.mustCreate(t, "alice@example.com", account.RoleMember)
	off := f.mustCreate(t, "off@example.com", account.RoleMember)
	if err := f.svc.Disable(t.Context(), admin.Principal(), off.ID); err != nil {
		t.Fatal(err)
	}
	// A hash that cannot be read (written by hand, say) fails like the rest.
	broken := f.mustCreate(t, "broken@example.com", account.RoleMember)
	if err := f.db.SetUserPassword(t.Context(), broken.ID, "not-a-hash", ""); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, email, password string
		ok                    bool
	}{
		{"right", "alice@example.com", goodPassword, true},
		{"right, other spelling", "  ALICE@example.COM ", goodPassword, true},
		{"wrong password", "alice@example.com", goodPassword + "!", false},
		{"empty password", "alice@example.com", "", false},
		{"unknown email", "nobody@example.com", goodPassword, false},
		{"malformed email", "nobody", goodPassword, false},
		{"disabled, right password", "off@example.com", goodPassword, false},
		{"disabled, wrong password", "off@example.com", "nope", false},
		{"unreadable hash", "broken@example.com", goodPassword, false},
		{"overlong password", "alice@example.com", strings.Repeat("p", 100_000), false},
	} {
		before := f.hasher.Hashes()
		u, err := f.svc.SignIn(t.Context(), tc.email, tc.password, "192.0.2.1")
		if n := f.hasher.Hashes() - before; n != 1 {
			t.Errorf("%s: %d hashes, want 1", tc.name, n)
		}
		if tc.ok {
			if err != nil || u.Email != "alice@example.com" {
				t.Errorf("%s: SignIn = %+v, %v", tc.name, u, err)
			}
			continue
		}
		if !errors.Is(err, account.ErrInvalidCredentials) || u.ID != 0 {
			t.Errorf("%s: SignIn = %+v, %v; want ErrInvalidCredentials", tc.name, u, err)
		}
		wantCode(t, err, "invalid_credentials")
	}
}

// TestSignInNormalisesPasswords checks that a password typed with
// composed or decomposed accents is the same password.
func TestSignInNormalisesPasswords(t *testing.T) {
	f := newFixture(t, account.Options{})
	composed := "caf\u00e9 au lait, s'il vous pla\u00eet"
	decomposed := "cafe\u0301 au lait, s'il vous plai\u0302t"
	if _, err := f.svc.Create(t.Context(), account.Operator, account.NewUser{Email: "a@example.com", Password: composed}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SignIn(t.Context(), "a@example.com", decomposed, ""); err != nil {
		t.Fatalf("decomposed spelling: %v", err)
	}
}

func TestSignInLimits(t *testing.T) {
	byEmail := ratelimit.NewLocal(ratelimit.Limit{Rate: 1.0 / 3600, Burst: 3})
	byAddr := ratelimit.NewLocal(ratelimit.Limit{Rate: 1.0 / 3600, Burst: 5})
	f := newFixture(t, account.Options{EmailLimiter: byEmail, AddrLimiter: byAddr})
	f.mustCreate(t, "alice@example.com", account.RoleMember)

	// Three attempts on one email, from different addresses; then the
	// email is refused whatever the password, before any hashing.
	for i := range 3 {
		if _, err := f.svc.SignIn(t.Context(), "alice@example.com", "guess", fmt.Sprintf("198.51.100.%d", i)); !errors.Is(err, account.ErrInvalidCredentials) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	before := f.hasher.Hashes()
	_, err := f.svc.SignIn(t.Context(), "ALICE@example.com", goodPassword, "198.51.100.9")
	var te *account.ThrottledError
	if !errors.As(err, &te) || !errors.Is(err, account.ErrTooManyAttempts) || te.RetryAfter() < time.Second {
		t.Fatalf("fourth attempt = %v, want a ThrottledError", err)
	}
	wantCode(t, err, "too_many_attempts")
	if f.hasher.Hashes() != before {
		t.Fatal("a throttled attempt was hashed")
	}

	// One address trying many emails runs out too; its refusals spend
	// nothing of the emails' allowances.
	for i := range 5 {
		f.svc.SignIn(t.Context(), fmt.Sprintf("user%d@example.com", i), "guess", "203.0.113.7")
	}
	if _, err := f.svc.SignIn(t.Context(), "bob@example.com", "guess", "203.0.113.7"); !errors.Is(err, account.ErrTooManyAttempts) {
		t.Fatalf("sixth attempt from one address = %v, want ErrTooManyAttempts", err)
	}
	if d, _ := byEmail.Allow(t.Context(), "signin:email:bob@example.com"); !d.Allowed {
		t.Fatal("the refused address spent bob's allowance")
	}
}

// TestRehashOnSignIn checks that a hash made with older parameters is
// replaced by one with the current parameters when its user signs in.
func TestRehashOnSignIn(t *testing.T) {
	f := newFixture(t, account.Options{})
	u := f.mustCreate(t, "alice@example.com", account.RoleMember)

	stronger := cheap
	stronger.Time = 2
	h, err := password.New(stronger, 0)
	if err != nil {
		t.Fatal(err)
	}
	g := newFixtureOn(t, f.db, account.Options{Hasher: h})
	if _, err := g.svc.SignIn(t.Context(), "alice@example.com", goodPassword, ""); err != nil {
		t.Fatal(err)
	}
	_, hash, err := f.db.UserByID(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p, _, _, err := password.Decode(hash); err != nil || p != stronger {
		t.Fatalf("hash after sign-in has %+v, %v; want the current parameters", p, err)
	}
	before := h.Hashes()
	if _, err := g.svc.SignIn(t.Context(), "alice@example.com", goodPassword, ""); err != nil {
		t.Fatalf("signing in with the upgraded hash: %v", err)
	}
	if n := h.Hashes() - before; n != 1 {
		t.Fatalf("a current hash cost %d hashes to sign in with, want 1 (no second upgrade)", n)
	}
}

func TestEnsureAdmin(t *testing.T) {
	f := newFixture(t, account.Options{})
	if _, _, err := f.svc.EnsureAdmin(t.Context(), "not an email", goodPassword); !errors.Is(err, account.ErrInvalidEmail) {
		t.Fatalf("EnsureAdmin(bad email) = %v", err)
	}
	if _, _, err := f.svc.EnsureAdmin(t.Context(), "root@example.com", "short"); !errors.Is(err, &link.Error{Code: "invalid_password"}) {
		t.Fatalf("EnsureAdmin(short password) = %v, want invalid_password", err)
	}
	u, made, err := f.svc.EnsureAdmin(t.Context(), "Root@Example.com", goodPassword)
	if err != nil || !made || u.Role != account.RoleAdmin || u.Email != "root@example.com" {
		t.Fatalf("EnsureAdmin = %+v, %v, %v", u, made, err)
	}
	if _, err := f.svc.SignIn(t.Context(), "root@example.com", goodPassword, ""); err != nil {
		t.Fatalf("signing in as the first admin: %v", err)
	}
	before := f.hasher.Hashes()
	if _, made, err := f.svc.EnsureAdmin(t.Context(), "root@example.com", goodPassword); err != nil || made {
		t.Fatalf("second EnsureAdmin = %v, %v; want nothing made", made, err)
	}
	if _, made, err := f.svc.EnsureAdmin(t.Context(), "other@example.com", "another good password"); err != nil || made {
		t.Fatalf("EnsureAdmin with other settings = %v, %v; want nothing made", made, err)
	}
	if f.hasher.Hashes() != before {
		t.Fatal("EnsureAdmin hashed a password when users exist")
	}
	es, _, err := f.audit.List(t.Context(), audit.Filter{Action: audit.UserCreate}, audit.Page{})
	if err != nil || len(es) != 1 || es[0].Detail["first_admin"] != true {
		t.Fatalf("audit entries %+v, %v; want one user.create of the first admin", es, err)
	}
}

// TestEnsureAdminRace starts two instances on one PostgreSQL database at
// once, each with a first admin of its own in its environment: one admin
// is made.
func TestEnsureAdminRace(t *testing.T) {
	dsn := pgtest.Database(t)
	var services []*account.Service
	for range 2 {
		db, err := postgres.Open(t.Context(), postgres.Options{URL: dsn, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		h, err := password.New(cheap, 0)
		if err != nil {
			t.Fatal(err)
		}
		services = append(services, account.New(db, account.Options{Hasher: h}))
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for round := range 5 {
		if round > 0 {
			// Start again from an empty database.
			if _, err := conn.Exec(t.Context(), `TRUNCATE users CASCADE; DELETE FROM settings WHERE name = 'first_user'`); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		made := make([]bool, len(services))
		errs := make([]error, len(services))
		start := make(chan struct{})
		for i, s := range services {
			wg.Go(func() {
				<-start
				_, made[i], errs[i] = s.EnsureAdmin(context.Background(), fmt.Sprintf("admin%d@example.com", i), goodPassword)
			})
		}
		close(start)
		wg.Wait()
		if errs[0] != nil || errs[1] != nil || made[0] == made[1] {
			t.Fatalf("round %d: EnsureAdmin made %v, errors %v; want exactly one made", round, made, errs)
		}
		users, err := services[0].List(t.Context(), account.Operator, 0, 10)
		if err != nil || len(users) != 1 {
			t.Fatalf("round %d: users %+v, %v; want one", round, users, err)
		}
	}
}
