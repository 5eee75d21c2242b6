package account_test

import (
	"errors"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/password"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/sqlite"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
)

// cheap hashes fast; the sign-in logic does not depend on the cost.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type fixture struct {
	db     *sqlite.DB
	svc    *account.Service
	hasher *password.Hasher
	audit  *audit.Log
	clock  *servicetest.Clock
}

// newFixture returns a Service over a real SQLite database in a temporary
// directory, with an audit log and a clock near the real time (the
// session manager reads the real one). opts may set limiters or a hasher.
func newFixture(t testing.TB, opts account.Options) fixture {
	t.Helper()
	return newFixtureOn(t, sqlitetest.Open(t), opts)
}

func newFixtureOn(t testing.TB, db *sqlite.DB, opts account.Options) fixture {
	t.Helper()
	f := fixture{db: db, clock: servicetest.NewClock(time.Now().UTC().Truncate(time.Microsecond))}
	if opts.Hasher == nil {
		h, err := password.New(cheap, 0)
		if err != nil {
			t.Fatal(err)
		}
		opts.Hasher = h
	}
	f.hasher = opts.Hasher
	f.audit = audit.New(db, f.clock.Now, nil)
	opts.Audit = f.audit
	opts.Now = f.clock.Now
	f.svc = account.New(db, opts)
	return f
}

const goodPassword = "correct horse battery staple"

func (f fixture) mustCreate(t testing.TB, email string, role account.Role) account.User {
	t.Helper()
	u, err := f.svc.Create(t.Context(), account.Operator, account.NewUser{Email: email, Password: goodPassword, Role: role})
	if err != nil {
		t.Fatalf("Create(%s): %v", email, err)
	}
	return u
}

// entries returns the audit log's actions on user id, oldest first.
func (f fixture) entries(t testing.TB, id string) []audit.Entry {
	t.Helper()
	es, _, err := f.audit.List(t.Context(), audit.Filter{TargetType: audit.TargetUser, TargetID: id}, audit.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	var le *link.Error
	if !errors.As(err, &le) || le.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}
