package account_test

import (
	"context"
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/password"
)

// BenchmarkSignOutEverywhere compares the two ways to end every session of
// one user among many: the indexed user_id column the stores keep
// (account.Store.EndSessions), and what scs's IterableStore offers, reading
// every session, decoding each to find its user and deleting the user's
// one by one. Each user has 10 sessions; the table holds sessions of
// sessions/10 users.
func BenchmarkSignOutEverywhere(b *testing.B) {
	for _, total := range []int{1_000, 10_000} {
		b.Run("sessions="+strconv.Itoa(total), func(b *testing.B) {
			f := newFixture(b, account.Options{})
			s, err := account.NewSessions(f.svc, f.db, account.SessionOptions{})
			if err != nil {
				b.Fatal(err)
			}
			codec := s.Manager().Codec
			const perUser = 10
			var users []account.User
			for i := range total / perUser {
				users = append(users, f.mustCreate(b, fmt.Sprintf("u%d@example.com", i), account.RoleMember))
			}
			expiry := time.Now().Add(time.Hour)
			// fill stores the sessions of u, as the session manager would.
			fill := func(u account.User) {
				for j := range perUser {
					data, err := codec.Encode(expiry, map[string]any{
						"account.user": u.ID, "account.epoch": u.SessionEpoch, "account.auth_at": time.Now().UnixMicro(), "flash": "Link created.",
					})
					if err != nil {
						b.Fatal(err)
					}
					if err := s.Manager().Store.(interface {
						CommitCtx(context.Context, string, []byte, time.Time) error
					}).CommitCtx(b.Context(), fmt.Sprintf("tok-%d-%d", u.ID, j), data, expiry); err != nil {
						b.Fatal(err)
					}
				}
			}
			for _, u := range users {
				fill(u)
			}
			target := users[len(users)/2]

			b.Run("indexed", func(b *testing.B) {
				for b.Loop() {
					n, err := f.db.EndSessions(b.Context(), target.ID)
					if err != nil || n != perUser {
						b.Fatalf("EndSessions = %d, %v", n, err)
					}
					b.StopTimer()
					fill(target)
					b.StartTimer()
				}
			})
			b.Run("iterate", func(b *testing.B) {
				for b.Loop() {
					all, err := f.db.AllSessions(b.Context(), time.Now())
					if err != nil {
						b.Fatal(err)
					}
					n := 0
					for token, data := range all {
						_, values, err := codec.Decode(data)
						if err != nil {
							b.Fatal(err)
						}
						if values["account.user"] == target.ID {
							if err := f.db.DeleteSession(b.Context(), token); err != nil {
								b.Fatal(err)
							}
							n++
						}
					}
					if n != perUser {
						b.Fatalf("deleted %d sessions, want %d", n, perUser)
					}
					b.StopTimer()
					fill(target)
					b.StartTimer()
				}
			})
		})
	}
}

// BenchmarkSignIn measures signing in with the default password
// parameters along each path, so that their costs can be compared: a
// wrong password, an unknown email and a disabled user cost what a
// successful sign-in costs, one hash.
func BenchmarkSignIn(b *testing.B) {
	h, err := password.New(password.Default, 0)
	if err != nil {
		b.Fatal(err)
	}
	f := newFixture(b, account.Options{Hasher: h})
	admin := f.mustCreate(b, "admin@example.com", account.RoleAdmin)
	f.mustCreate(b, "alice@example.com", account.RoleMember)
	off := f.mustCreate(b, "off@example.com", account.RoleMember)
	if err := f.svc.Disable(b.Context(), admin.Principal(), off.ID); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, email, pw string }{
		{"ok", "alice@example.com", goodPassword},
		{"wrong-password", "alice@example.com", goodPassword + "!"},
		{"unknown-email", "nobody@example.com", goodPassword},
		{"disabled", "off@example.com", goodPassword},
	} {
		b.Run(c.name, func(b *testing.B) {
			start := cpuTime()
			for b.Loop() {
				_, err := f.svc.SignIn(b.Context(), c.email, c.pw, "")
				if (err == nil) != (c.name == "ok") {
					b.Fatalf("SignIn = %v", err)
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}

func cpuTime() time.Duration {
	var r syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}
