package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/link"
)

// AccountStore is what an engine provides for accounts: users, their
// sessions, the audit log, and API keys that belong to users.
type AccountStore interface {
	account.Store
	account.SessionStore
	audit.Store
	apikey.Store
}

// RunAccounts runs the conformance suite of account.Store,
// account.SessionStore, audit.Store and the owner side of apikey.Store.
// open returns an empty, migrated store that the test may use alone; it is
// called once per subtest.
func RunAccounts(t *testing.T, open func(t *testing.T) AccountStore) {
	t.Run("UserRoundTrip", func(t *testing.T) { testUserRoundTrip(t, open(t)) })
	t.Run("EmailTaken", func(t *testing.T) { testEmailTaken(t, open(t)) })
	t.Run("UserNotFound", func(t *testing.T) { testUserNotFound(t, open(t)) })
	t.Run("ListUsers", func(t *testing.T) { testListUsers(t, open(t)) })
	t.Run("SetUserPassword", func(t *testing.T) { testSetUserPassword(t, open(t)) })
	t.Run("SetUserDomains", func(t *testing.T) { testSetUserDomains(t, open(t)) })
	t.Run("LastAdmin", func(t *testing.T) { testLastAdmin(t, open(t)) })
	t.Run("ConcurrentDemotions", func(t *testing.T) { testConcurrentDemotions(t, open(t)) })
	t.Run("FirstUser", func(t *testing.T) { testFirstUser(t, open(t)) })
	t.Run("FirstUserAfterOthers", func(t *testing.T) { testFirstUserAfterOthers(t, open(t)) })
	t.Run("ConcurrentFirstUser", func(t *testing.T) { testConcurrentFirstUser(t, open(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open(t)) })
	t.Run("EndSessions", func(t *testing.T) { testEndSessions(t, open(t)) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open(t)) })
	t.Run("KeyOwners", func(t *testing.T) { testKeyOwners(t, open(t)) })
}

const testHash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"

func mustUser(t *testing.T, s AccountStore, email string, role account.Role) account.User {
	t.Helper()
	u, err := s.CreateUser(ctx(t), account.User{Email: email, Role: role, CreatedAt: now()}, testHash)
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", email, err)
	}
	if u.ID == 0 {
		t.Fatalf("CreateUser(%s) returned no id", email)
	}
	return u
}

func mustUserByID(t *testing.T, s AccountStore, id int64) account.User {
	t.Helper()
	u, _, err := s.UserByID(ctx(t), id)
	if err != nil {
		t.Fatalf("UserByID(%d): %v", id, err)
	}
	return u
}

func testUserRoundTrip(t *testing.T, s AccountStore) {
	created := now()
	in := account.User{Email: "alice@example.com", Role: account.RoleMember, CreatedAt: created,
		Domains: []string{"go.example.com", "xn--bcher-kva.example"}}
	u, err := s.CreateUser(ctx(t), in, testHash)
	if err != nil {
		t.Fatal(err)
	}
	admin := mustUser(t, s, "root@example.com", account.RoleAdmin)
	if u.ID == 0 || admin.ID == u.ID {
		t.Fatalf("ids %d and %d, want distinct and non-zero", u.ID, admin.ID)
	}
	for _, lookup := range []struct {
		name string
		get  func() (account.User, string, error)
	}{
		{"UserByID", func() (account.User, string, error) { return s.UserByID(ctx(t), u.ID) }},
		{"UserByEmail", func() (account.User, string, error) { return s.UserByEmail(ctx(t), "alice@example.com") }},
		{"UserByEmail(other case)", func() (account.User, string, error) { return s.UserByEmail(ctx(t), "ALICE@Example.COM") }},
	} {
		got, hash, err := lookup.get()
		if err != nil {
			t.Fatalf("%s: %v", lookup.name, err)
		}
		if got.ID != u.ID || got.Email != in.Email || got.Role != in.Role || !got.CreatedAt.Equal(created) ||
			!got.DisabledAt.IsZero() || !slices.Equal(got.Domains, in.Domains) || got.SessionEpoch != 0 {
			t.Errorf("%s = %+v, want %+v", lookup.name, got, in)
		}
		if hash != testHash {
			t.Errorf("%s: hash %q, want %q", lookup.name, hash, testHash)
		}
	}
	if got := mustUserByID(t, s, admin.ID); got.Role != account.RoleAdmin || got.Domains == nil || len(got.Domains) != 0 {
		t.Errorf("admin = %+v, want role admin and no domains (empty, not nil)", got)
	}
}

func testEmailTaken(t *testing.T, s AccountStore) {
	mustUser(t, s, "bob@example.com", account.RoleMember)
	for _, email := range []string{"bob@example.com", "Bob@Example.com"} {
		_, err := s.CreateUser(ctx(t), account.User{Email: email, Role: account.RoleAdmin, CreatedAt: now()}, testHash)
		if !errors.Is(err, account.ErrEmailTaken) {
			t.Errorf("CreateUser(%s) = %v, want ErrEmailTaken", email, err)
		}
	}
	users, err := s.ListUsers(ctx(t), 0, 10)
	if err != nil || len(users) != 1 {
		t.Fatalf("ListUsers = %v, %v; want the one user", users, err)
	}
}

func testUserNotFound(t *testing.T, s AccountStore) {
	const id = 424242
	if _, _, err := s.UserByID(ctx(t), id); !errors.Is(err, account.ErrUserNotFound) {
		t.Errorf("UserByID(unknown) = %v", err)
	}
	if _, _, err := s.UserByEmail(ctx(t), "nobody@example.com"); !errors.Is(err, account.ErrUserNotFound) {
		t.Errorf("UserByEmail(unknown) = %v", err)
	}
	for name, err := range map[string]error{
		"SetUserPassword": s.SetUserPassword(ctx(t), id, testHash, ""),
		"SetUserRole":     s.SetUserRole(ctx(t), id, account.RoleAdmin),
		"SetUserDisabled": s.SetUserDisabled(ctx(t), id, now()),
		"enable":          s.SetUserDisabled(ctx(t), id, time.Time{}),
		"SetUserDomains":  s.SetUserDomains(ctx(t), id, []string{"a.example"}),
	} {
		if !errors.Is(err, account.ErrUserNotFound) {
			t.Errorf("%s(unknown) = %v, want ErrUserNotFound", name, err)
		}
	}
	if _, err := s.EndSessions(ctx(t), id); !errors.Is(err, account.ErrUserNotFound) {
		t.Errorf("EndSessions(unknown) = %v, want ErrUserNotFound", err)
	}
}

func testListUsers(t *testing.T, s AccountStore) {
	var ids []int64
	for i := range 5 {
		ids = append(ids, mustUser(t, s, fmt.Sprintf("u%d@example.com", i), account.RoleMember).ID)
	}
	var got []int64
	after := int64(0)
	for range 4 {
		page, err := s.ListUsers(ctx(t), after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 2 {
			t.Fatalf("ListUsers(limit 2) returned %d users", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, u := range page {
			got = append(got, u.ID)
		}
		after = page[len(page)-1].ID
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("paged ids %v, want %v", got, ids)
	}
}

func testSetUserPassword(t *testing.T, s AccountStore) {
	u := mustUser(t, s, "pw@example.com", account.RoleMember)
	hash := func() string {
		_, h, err := s.UserByID(ctx(t), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if err := s.SetUserPassword(ctx(t), u.ID, "second", ""); err != nil || hash() != "second" {
		t.Fatalf("SetUserPassword: %v, hash %q", err, hash())
	}
	// An upgrade made from a hash that has changed since does nothing.
	if err := s.SetUserPassword(ctx(t), u.ID, "upgraded", testHash); err != nil || hash() != "second" {
		t.Fatalf("SetUserPassword(if stale) = %v, hash %q; want the hash kept", err, hash())
	}
	if err := s.SetUserPassword(ctx(t), u.ID, "upgraded", "second"); err != nil || hash() != "upgraded" {
		t.Fatalf("SetUserPassword(if current) = %v, hash %q", err, hash())
	}
}

func testSetUserDomains(t *testing.T, s AccountStore) {
	u := mustUser(t, s, "dom@example.com", account.RoleMember)
	if err := s.SetUserDomains(ctx(t), u.ID, []string{"a.example", "b.example"}); err != nil {
		t.Fatal(err)
	}
	if got := mustUserByID(t, s, u.ID).Domains; !slices.Equal(got, []string{"a.example", "b.example"}) {
		t.Fatalf("domains %v", got)
	}
	if err := s.SetUserDomains(ctx(t), u.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got := mustUserByID(t, s, u.ID).Domains; got == nil || len(got) != 0 {
		t.Fatalf("domains after clearing %#v, want empty", got)
	}
}

func testLastAdmin(t *testing.T, s AccountStore) {
	first := mustUser(t, s, "first@example.com", account.RoleAdmin)
	member := mustUser(t, s, "member@example.com", account.RoleMember)
	if err := s.SetUserDisabled(ctx(t), first.ID, now()); !errors.Is(err, account.ErrLastAdmin) {
		t.Fatalf("disabling the only admin = %v, want ErrLastAdmin", err)
	}
	if err := s.SetUserRole(ctx(t), first.ID, account.RoleMember); !errors.Is(err, account.ErrLastAdmin) {
		t.Fatalf("demoting the only admin = %v, want ErrLastAdmin", err)
	}
	if u := mustUserByID(t, s, first.ID); u.Role != account.RoleAdmin || u.Disabled() {
		t.Fatalf("a refused change changed the admin: %+v", u)
	}
	// Members come and go freely.
	t1 := now()
	if err := s.SetUserDisabled(ctx(t), member.ID, t1); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserDisabled(ctx(t), member.ID, t1.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if u := mustUserByID(t, s, member.ID); !u.DisabledAt.Equal(t1) {
		t.Fatalf("disabled at %v, want the first time %v kept", u.DisabledAt, t1)
	}
	// A disabled admin is no admin to fall back on.
	if err := s.SetUserRole(ctx(t), member.ID, account.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserRole(ctx(t), first.ID, account.RoleMember); !errors.Is(err, account.ErrLastAdmin) {
		t.Fatalf("demoting the only active admin = %v, want ErrLastAdmin", err)
	}
	if err := s.SetUserDisabled(ctx(t), member.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if u := mustUserByID(t, s, member.ID); u.Disabled() {
		t.Fatalf("still disabled after enabling: %+v", u)
	}
	if err := s.SetUserRole(ctx(t), first.ID, account.RoleMember); err != nil {
		t.Fatalf("demoting one of two admins: %v", err)
	}
	if err := s.SetUserDisabled(ctx(t), member.ID, now()); !errors.Is(err, account.ErrLastAdmin) {
		t.Fatalf("disabling the new only admin = %v, want ErrLastAdmin", err)
	}
}

func testConcurrentDemotions(t *testing.T, s AccountStore) {
	a := mustUser(t, s, "a@example.com", account.RoleAdmin)
	b := mustUser(t, s, "b@example.com", account.RoleAdmin)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []int64{a.ID, b.ID} {
		wg.Go(func() {
			if i == 0 {
				errs[i] = s.SetUserRole(ctx(t), id, account.RoleMember)
			} else {
				errs[i] = s.SetUserDisabled(ctx(t), id, now())
			}
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, account.ErrLastAdmin):
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of two concurrent demotions of the two admins went through (%v), want exactly one", ok, errs)
	}
}

func testFirstUser(t *testing.T, s AccountStore) {
	u, made, err := s.CreateFirstUser(ctx(t), account.User{Email: "boot@example.com", Role: account.RoleAdmin, CreatedAt: now()}, testHash)
	if err != nil || !made || u.ID == 0 {
		t.Fatalf("CreateFirstUser on an empty store = %+v, %v, %v", u, made, err)
	}
	if got := mustUserByID(t, s, u.ID); got.Email != "boot@example.com" || got.Role != account.RoleAdmin {
		t.Fatalf("first user stored as %+v", got)
	}
	_, made, err = s.CreateFirstUser(ctx(t), account.User{Email: "again@example.com", Role: account.RoleAdmin, CreatedAt: now()}, testHash)
	if err != nil || made {
		t.Fatalf("second CreateFirstUser = %v, %v; want nothing made", made, err)
	}
}

func testFirstUserAfterOthers(t *testing.T, s AccountStore) {
	mustUser(t, s, "early@example.com", account.RoleAdmin)
	_, made, err := s.CreateFirstUser(ctx(t), account.User{Email: "boot@example.com", Role: account.RoleAdmin, CreatedAt: now()}, testHash)
	if err != nil || made {
		t.Fatalf("CreateFirstUser with a user present = %v, %v; want nothing made", made, err)
	}
	if _, _, err := s.UserByEmail(ctx(t), "boot@example.com"); !errors.Is(err, account.ErrUserNotFound) {
		t.Fatalf("the first user was stored anyway: %v", err)
	}
}

func testConcurrentFirstUser(t *testing.T, s AccountStore) {
	// Different emails, so that email uniqueness cannot be what stops the
	// others.
	const n = 8
	var wg sync.WaitGroup
	made := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			u := account.User{Email: fmt.Sprintf("boot%d@example.com", i), Role: account.RoleAdmin, CreatedAt: now()}
			_, made[i], errs[i] = s.CreateFirstUser(ctx(t), u, testHash)
		})
	}
	wg.Wait()
	count := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("CreateFirstUser %d: %v", i, errs[i])
		}
		if made[i] {
			count++
		}
	}
	users, err := s.ListUsers(ctx(t), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if count != 1 || len(users) != 1 {
		t.Fatalf("%d calls said they made the first user and %d users exist; want 1 and 1", count, len(users))
	}
}

func testSessions(t *testing.T, s AccountStore) {
	u := mustUser(t, s, "sess@example.com", account.RoleMember)
	t0 := now()
	if err := s.CommitSession(ctx(t), "tok-a", u.ID, []byte("data-a"), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitSession(ctx(t), "tok-anon", 0, []byte("anon"), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitSession(ctx(t), "tok-old", u.ID, []byte("old"), t0); err != nil {
		t.Fatal(err)
	}
	find := func(token string, at time.Time) (string, bool) {
		t.Helper()
		b, ok, err := s.FindSession(ctx(t), token, at)
		if err != nil {
			t.Fatalf("FindSession(%s): %v", token, err)
		}
		return string(b), ok
	}
	if b, ok := find("tok-a", t0); !ok || b != "data-a" {
		t.Fatalf("FindSession(tok-a) = %q, %v", b, ok)
	}
	if _, ok := find("tok-old", t0); ok {
		t.Fatal("a session found at its expiry time")
	}
	if _, ok := find("tok-a", t0.Add(time.Hour)); ok {
		t.Fatal("a session found at its expiry time")
	}
	if _, ok := find("absent", t0); ok {
		t.Fatal("an unknown token was found")
	}
	// Commit replaces data and expiry.
	if err := s.CommitSession(ctx(t), "tok-a", u.ID, []byte("data-a2"), t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, ok := find("tok-a", t0.Add(90*time.Minute)); !ok || b != "data-a2" {
		t.Fatalf("after a second commit: %q, %v", b, ok)
	}
	all, err := s.AllSessions(ctx(t), t0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"tok-a": []byte("data-a2"), "tok-anon": []byte("anon")}
	if !maps.EqualFunc(all, want, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Fatalf("AllSessions = %q, want %q", all, want)
	}
	n, err := s.DeleteExpiredSessions(ctx(t), t0.Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 2 (tok-old and tok-anon)", n, err)
	}
	if err := s.DeleteSession(ctx(t), "tok-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx(t), "tok-a"); err != nil {
		t.Fatalf("deleting an absent session: %v", err)
	}
	if all, err := s.AllSessions(ctx(t), t0); err != nil || len(all) != 0 || all == nil {
		t.Fatalf("AllSessions after deleting all = %#v, %v; want an empty map", all, err)
	}
}

func testEndSessions(t *testing.T, s AccountStore) {
	a := mustUser(t, s, "a@example.com", account.RoleMember)
	b := mustUser(t, s, "b@example.com", account.RoleMember)
	exp := now().Add(time.Hour)
	for i := range 3 {
		if err := s.CommitSession(ctx(t), fmt.Sprintf("a%d", i), a.ID, []byte("a"), exp); err != nil {
			t.Fatal(err)
		}
	}
	for _, tok := range []string{"b0", "anon"} {
		uid := b.ID
		if tok == "anon" {
			uid = 0
		}
		if err := s.CommitSession(ctx(t), tok, uid, []byte("x"), exp); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.EndSessions(ctx(t), a.ID)
	if err != nil || n != 3 {
		t.Fatalf("EndSessions(a) = %d, %v; want 3", n, err)
	}
	all, err := s.AllSessions(ctx(t), now())
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(all)); !slices.Equal(got, []string{"anon", "b0"}) {
		t.Fatalf("sessions left %v, want anon and b0", got)
	}
	if e := mustUserByID(t, s, a.ID).SessionEpoch; e != 1 {
		t.Fatalf("a's session epoch %d, want 1", e)
	}
	if e := mustUserByID(t, s, b.ID).SessionEpoch; e != 0 {
		t.Fatalf("b's session epoch %d, want 0", e)
	}
	if n, err := s.EndSessions(ctx(t), a.ID); err != nil || n != 0 || mustUserByID(t, s, a.ID).SessionEpoch != 2 {
		t.Fatalf("EndSessions(a) again = %d, %v; want 0 and the epoch moved on", n, err)
	}
}

func testAudit(t *testing.T, s AccountStore) {
	base := now()
	entries := []audit.Entry{
		{At: base, ActorUserID: 1, Action: audit.UserCreate, TargetType: audit.TargetUser, TargetID: "2",
			Detail: map[string]any{"email": "b@example.com", "domains": []any{"a.example"}}},
		{At: base.Add(time.Second), ActorUserID: 1, ActorKeyID: 7, Action: audit.KeyCreate, TargetType: audit.TargetKey, TargetID: "9"},
		{At: base.Add(2 * time.Second), Action: audit.UserDisable, TargetType: audit.TargetUser, TargetID: "2",
			Detail: map[string]any{"sessions_ended": float64(3)}},
		{At: base.Add(3 * time.Second), ActorUserID: 2, Action: audit.LinkDisable, TargetType: audit.TargetLink, TargetID: "12",
			Detail: map[string]any{"reason": "phishing"}},
		{At: base.Add(4 * time.Second), ActorUserID: 1, Action: audit.UserRole, TargetType: audit.TargetUser, TargetID: "3"},
	}
	var ids []int64
	for i, e := range entries {
		id, err := s.AppendAudit(ctx(t), e)
		if err != nil {
			t.Fatalf("AppendAudit(%s): %v", e.Action, err)
		}
		if len(ids) > 0 && id <= ids[len(ids)-1] {
			t.Fatalf("ids %v then %d: want growing", ids, id)
		}
		ids = append(ids, id)
		entries[i].ID = id
	}
	list := func(f audit.Filter, p audit.Page) []int64 {
		t.Helper()
		got, err := s.ListAudit(ctx(t), f, p)
		if err != nil {
			t.Fatalf("ListAudit(%+v, %+v): %v", f, p, err)
		}
		out := make([]int64, len(got))
		for i, e := range got {
			out[i] = e.ID
		}
		return out
	}
	at := func(i ...int) []int64 {
		out := make([]int64, len(i))
		for j, k := range i {
			out[j] = ids[k]
		}
		return out
	}

	all, err := s.ListAudit(ctx(t), audit.Filter{}, audit.Page{Limit: 10})
	if err != nil || len(all) != len(entries) {
		t.Fatalf("ListAudit(all) = %d entries, %v", len(all), err)
	}
	for i, got := range all {
		want := entries[len(entries)-1-i]
		if got.ID != want.ID || !got.At.Equal(want.At) || got.ActorUserID != want.ActorUserID || got.ActorKeyID != want.ActorKeyID ||
			got.Action != want.Action || got.TargetType != want.TargetType || got.TargetID != want.TargetID ||
			fmt.Sprint(got.Detail) != fmt.Sprint(want.Detail) {
			t.Errorf("entry %d = %+v, want %+v", i, got, want)
		}
	}
	for _, tc := range []struct {
		name string
		f    audit.Filter
		p    audit.Page
		want []int64
	}{
		{"page", audit.Filter{}, audit.Page{Limit: 2}, at(4, 3)},
		{"next page", audit.Filter{}, audit.Page{Before: ids[3], Limit: 2}, at(2, 1)},
		{"actor user", audit.Filter{ActorUserID: 1}, audit.Page{Limit: 10}, at(4, 1, 0)},
		{"actor key", audit.Filter{ActorKeyID: 7}, audit.Page{Limit: 10}, at(1)},
		{"action", audit.Filter{Action: audit.UserDisable}, audit.Page{Limit: 10}, at(2)},
		{"family", audit.Filter{Action: "user."}, audit.Page{Limit: 10}, at(4, 2, 0)},
		{"target", audit.Filter{TargetType: audit.TargetUser, TargetID: "2"}, audit.Page{Limit: 10}, at(2, 0)},
		{"target type", audit.Filter{TargetType: audit.TargetLink}, audit.Page{Limit: 10}, at(3)},
		{"since", audit.Filter{Since: base.Add(3 * time.Second)}, audit.Page{Limit: 10}, at(4, 3)},
		{"until", audit.Filter{Until: base.Add(time.Second)}, audit.Page{Limit: 10}, at(0)},
		{"combined", audit.Filter{ActorUserID: 1, Action: "user.", Since: base.Add(time.Second)}, audit.Page{Limit: 10}, at(4)},
		{"nothing", audit.Filter{Action: "report."}, audit.Page{Limit: 10}, nil},
	} {
		if got := list(tc.f, tc.p); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("%s: ids %v, want %v", tc.name, got, tc.want)
		}
	}
}

func testKeyOwners(t *testing.T, s AccountStore) {
	admin := mustUser(t, s, "admin@example.com", account.RoleAdmin)
	member := mustUser(t, s, "member@example.com", account.RoleMember)
	at := now()
	keys := []apikey.Key{
		{Name: "legacy-admin", Prefix: "sl_la", Hash: hash32("la"), Admin: true, CreatedAt: at},
		{Name: "legacy", Prefix: "sl_l", Hash: hash32("l"), CreatedAt: at},
		{Name: "member", Prefix: "sl_m", Hash: hash32("m"), UserID: member.ID, Scopes: link.ScopeLinksRead,
			CreatedAt: at, ExpiresAt: at.Add(time.Hour)},
		{Name: "admin", Prefix: "sl_a", Hash: hash32("a"), UserID: admin.ID, Scopes: link.AllScopes, CreatedAt: at},
	}
	for i, k := range keys {
		got, err := s.CreateKey(ctx(t), k)
		if err != nil {
			t.Fatalf("CreateKey(%s): %v", k.Name, err)
		}
		keys[i].ID = got.ID
	}
	want := []struct {
		scopes     link.Scopes
		ownerAdmin bool
	}{
		{link.AllScopes, false},
		{link.ScopeLinksRead | link.ScopeLinksWrite, false},
		{link.ScopeLinksRead, false},
		{link.AllScopes, true},
	}
	check := func(when string, disabledMember bool) {
		t.Helper()
		listed, err := s.ListKeys(ctx(t))
		if err != nil || len(listed) != len(keys) {
			t.Fatalf("%s: ListKeys = %d keys, %v", when, len(listed), err)
		}
		for i, k := range keys {
			got, err := s.KeyByHash(ctx(t), k.Hash)
			if err != nil {
				t.Fatalf("%s: KeyByHash(%s): %v", when, k.Name, err)
			}
			for _, g := range []apikey.Key{got, listed[i]} {
				ownerDisabled := disabledMember && k.UserID == member.ID
				if g.ID != k.ID || g.UserID != k.UserID || g.Scopes != want[i].scopes || !g.ExpiresAt.Equal(k.ExpiresAt) ||
					g.Admin != k.Admin || g.OwnerAdmin != want[i].ownerAdmin || g.OwnerDisabled != ownerDisabled {
					t.Errorf("%s: key %s = %+v; want user %d, scopes %v, expiry %v, admin flag %v, owner admin %v, owner disabled %v",
						when, k.Name, g, k.UserID, want[i].scopes, k.ExpiresAt, k.Admin, want[i].ownerAdmin, ownerDisabled)
				}
			}
		}
	}
	check("before", false)
	if err := s.SetUserDisabled(ctx(t), member.ID, now()); err != nil {
		t.Fatal(err)
	}
	check("member disabled", true)
}

func hash32(s string) []byte { return []byte(strings.Repeat(s, 32)[:32]) }
