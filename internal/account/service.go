package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/password"
	"github.com/shortlinks/shortlinks/internal/ratelimit"
)

// Limiter hands out attempts per key. *ratelimit.Local fits, for one
// instance, and *ratelimit.Shared, for limits that every instance shares.
type Limiter interface {
	Allow(ctx context.Context, key string) (ratelimit.Decision, error)
}

// Suggested sign-in limits: bursts that a person mistyping never meets,
// then a pace at which guessing gets nowhere. The email limit is also what
// anyone may spend to lock a user out for a while, so it stays generous.
var (
	DefaultEmailLimit = ratelimit.Limit{Rate: 1.0 / 60, Burst: 10} // 10, then one a minute
	DefaultAddrLimit  = ratelimit.Limit{Rate: 1.0 / 6, Burst: 30}  // 30, then ten a minute
)

// Auditor records actions; *audit.Log fits.
type Auditor interface {
	Record(ctx context.Context, e audit.Entry) error
}

// Options configure a Service.
type Options struct {
	// Hasher hashes passwords; nil means password.Default with half the
	// processors.
	Hasher *password.Hasher
	// EmailLimiter and AddrLimiter bound sign-in attempts per email
	// address and per client address; nil leaves that side unlimited.
	EmailLimiter Limiter
	AddrLimiter  Limiter
	// Audit records every change to a user; nil records nothing.
	Audit Auditor
	// Log receives problems that do not fail the request, such as a
	// password hash that could not be upgraded; nil discards them.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// MaxDomains bounds the branded domains a user may be given.
const MaxDomains = 100

// Service manages users and signs them in.
type Service struct {
	store   Store
	hasher  *password.Hasher
	byEmail Limiter
	byAddr  Limiter
	audit   Auditor
	log     *slog.Logger
	now     func() time.Time
	decoy   string // checked against when there is no user, or no readable hash
}

// New returns a Service over store.
func New(store Store, opts Options) *Service {
	if opts.Hasher == nil {
		h, err := password.New(password.Default, 0)
		if err != nil {
			panic(err) // password.Default is valid; a test guards it
		}
		opts.Hasher = h
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{
		store: store, hasher: opts.Hasher, byEmail: opts.EmailLimiter, byAddr: opts.AddrLimiter,
		audit: opts.Audit, log: opts.Log, now: opts.Now, decoy: opts.Hasher.Decoy(),
	}
}

func (s *Service) stamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// NewUser is what Create needs to make a user.
type NewUser struct {
	Email    string
	Password string
	Role     Role // "" means member
	Domains  []string
}

// Create makes a user; by must be an admin. It returns ErrInvalidEmail,
// an invalid_password, invalid_role or invalid_domain error, or
// ErrEmailTaken.
func (s *Service) Create(ctx context.Context, by link.Principal, nu NewUser) (User, error) {
	if !by.Admin {
		return User{}, ErrForbidden
	}
	u, hash, err := s.prepare(ctx, nu)
	if err != nil {
		return User{}, err
	}
	u, err = s.store.CreateUser(ctx, u, hash)
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	s.record(ctx, by, audit.UserCreate, u.ID, map[string]any{"email": u.Email, "role": u.Role, "domains": u.Domains})
	return u, nil
}

// prepare checks nu and hashes its password.
func (s *Service) prepare(ctx context.Context, nu NewUser) (User, string, error) {
	email, err := NormalizeEmail(nu.Email)
	if err != nil {
		return User{}, "", err
	}
	if nu.Role == "" {
		nu.Role = RoleMember
	}
	if !nu.Role.Valid() {
		return User{}, "", ErrInvalidRole
	}
	domains, err := normalizeDomains(nu.Domains)
	if err != nil {
		return User{}, "", err
	}
	pw, err := normalizePassword(nu.Password)
	if err != nil {
		return User{}, "", err
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return User{}, "", fmt.Errorf("hash password: %w", err)
	}
	return User{Email: email, Role: nu.Role, CreatedAt: s.stamp(), Domains: domains}, hash, nil
}

// normalizeDomains returns the ASCII forms of domains, sorted, without
// repeats; never nil.
func normalizeDomains(domains []string) ([]string, error) {
	if len(domains) > MaxDomains {
		return nil, &link.Error{Kind: link.Invalid, Code: "invalid_domain", Field: "domains",
			Message: "A user may be given at most " + strconv.Itoa(MaxDomains) + " domains."}
	}
	out := make([]string, 0, len(domains))
	for _, d := range domains {
		a, ok := normalizeHost(d)
		if !ok {
			return nil, errDomain(d)
		}
		out = append(out, a)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Get returns the user with id; by must be that user or an admin.
func (s *Service) Get(ctx context.Context, by link.Principal, id int64) (User, error) {
	if !by.Admin && by.UserID != id {
		return User{}, ErrForbidden
	}
	u, _, err := s.store.UserByID(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// ByEmail returns the user with email, in any spelling NormalizeEmail
// accepts; by must be an admin.
func (s *Service) ByEmail(ctx context.Context, by link.Principal, email string) (User, error) {
	if !by.Admin {
		return User{}, ErrForbidden
	}
	e, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	u, _, err := s.store.UserByEmail(ctx, e)
	if err != nil {
		return User{}, fmt.Errorf("user by email: %w", err)
	}
	return u, nil
}

// Page sizes for List.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// List returns up to limit users (zero: DefaultPageSize) with IDs above
// after, in ID order; by must be an admin.
func (s *Service) List(ctx context.Context, by link.Principal, after int64, limit int) ([]User, error) {
	if !by.Admin {
		return nil, ErrForbidden
	}
	switch {
	case limit == 0:
		limit = DefaultPageSize
	case limit < 0 || limit > MaxPageSize:
		return nil, &link.Error{Kind: link.Invalid, Code: "invalid_limit", Field: "limit",
			Message: "limit must be between 1 and " + strconv.Itoa(MaxPageSize) + "."}
	}
	users, err := s.store.ListUsers(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// Disable stops user id from signing in, ends their sessions and stops
// their API keys; by must be an admin. It returns ErrLastAdmin rather than
// disable the last active admin. Disabling a disabled user keeps the
// first time.
func (s *Service) Disable(ctx context.Context, by link.Principal, id int64) error {
	if !by.Admin {
		return ErrForbidden
	}
	at := s.stamp()
	if err := s.store.SetUserDisabled(ctx, id, at); err != nil {
		return fmt.Errorf("disable user %d: %w", id, err)
	}
	n, err := s.store.EndSessions(ctx, id)
	if err != nil {
		return fmt.Errorf("disable user %d: end sessions: %w", id, err)
	}
	s.record(ctx, by, audit.UserDisable, id, map[string]any{"sessions_ended": n})
	return nil
}

// Enable lets a disabled user id sign in again; by must be an admin.
func (s *Service) Enable(ctx context.Context, by link.Principal, id int64) error {
	if !by.Admin {
		return ErrForbidden
	}
	if err := s.store.SetUserDisabled(ctx, id, time.Time{}); err != nil {
		return fmt.Errorf("enable user %d: %w", id, err)
	}
	s.record(ctx, by, audit.UserEnable, id, nil)
	return nil
}

// SetRole gives user id role; by must be an admin. It returns
// ErrLastAdmin rather than leave no active admin.
func (s *Service) SetRole(ctx context.Context, by link.Principal, id int64, role Role) error {
	if !by.Admin {
		return ErrForbidden
	}
	if !role.Valid() {
		return ErrInvalidRole
	}
	old, _, err := s.store.UserByID(ctx, id)
	if err != nil {
		return fmt.Errorf("set role of user %d: %w", id, err)
	}
	if old.Role == role {
		return nil
	}
	if err := s.store.SetUserRole(ctx, id, role); err != nil {
		return fmt.Errorf("set role of user %d: %w", id, err)
	}
	s.record(ctx, by, audit.UserRole, id, map[string]any{"from": old.Role, "to": role})
	return nil
}

// SetDomains replaces the branded domains user id may use; by must be an
// admin.
func (s *Service) SetDomains(ctx context.Context, by link.Principal, id int64, domains []string) error {
	if !by.Admin {
		return ErrForbidden
	}
	ds, err := normalizeDomains(domains)
	if err != nil {
		return err
	}
	if err := s.store.SetUserDomains(ctx, id, ds); err != nil {
		return fmt.Errorf("set domains of user %d: %w", id, err)
	}
	s.record(ctx, by, audit.UserDomains, id, map[string]any{"domains": ds})
	return nil
}

// ResetPassword gives user id a new password and ends their sessions; by
// must be an admin. It returns an invalid_password error for a password
// that breaks the rules.
func (s *Service) ResetPassword(ctx context.Context, by link.Principal, id int64, newPassword string) error {
	if !by.Admin {
		return ErrForbidden
	}
	if err := s.setPassword(ctx, id, newPassword); err != nil {
		return fmt.Errorf("reset password of user %d: %w", id, err)
	}
	s.record(ctx, by, audit.UserPassword, id, map[string]any{"reset": true})
	return nil
}

// ChangePassword replaces the password of the signed-in user by, given
// their current one, and ends all their sessions, this one too: sign in
// again afterwards. A wrong current password is ErrInvalidCredentials, and
// attempts are limited as signing in is.
func (s *Service) ChangePassword(ctx context.Context, by link.Principal, current, newPassword string) error {
	if by.UserID == 0 || by.KeyID != 0 {
		return ErrNotSignedIn // a key cannot change its user's password
	}
	if _, err := normalizePassword(newPassword); err != nil {
		return err
	}
	u, hash, err := s.store.UserByID(ctx, by.UserID)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if err := s.limit(ctx, "", u.Email); err != nil {
		return err
	}
	if ok, err := s.check(ctx, hash, current); err != nil {
		return fmt.Errorf("change password: %w", err)
	} else if !ok || u.Disabled() {
		return ErrInvalidCredentials
	}
	if err := s.setPassword(ctx, u.ID, newPassword); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	s.record(ctx, by, audit.UserPassword, u.ID, nil)
	return nil
}

func (s *Service) setPassword(ctx context.Context, id int64, pw string) error {
	pw, err := normalizePassword(pw)
	if err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	if err := s.store.SetUserPassword(ctx, id, hash, ""); err != nil {
		return err
	}
	if _, err := s.store.EndSessions(ctx, id); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}

// SignOutEverywhere ends every session of user id; by must be that user
// or an admin. It returns how many sessions ended.
func (s *Service) SignOutEverywhere(ctx context.Context, by link.Principal, id int64) (int64, error) {
	if !by.Admin && by.UserID != id {
		return 0, ErrForbidden
	}
	n, err := s.store.EndSessions(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("sign out user %d: %w", id, err)
	}
	s.record(ctx, by, audit.UserSignOut, id, map[string]any{"sessions_ended": n})
	return n, nil
}

// record notes an action on user id in the audit log. A failure to record
// does not undo the action, which has happened: the audit log writes the
// entry to the error log instead.
func (s *Service) record(ctx context.Context, by link.Principal, a audit.Action, id int64, detail map[string]any) {
	if s.audit == nil {
		return
	}
	err := s.audit.Record(ctx, audit.Entry{
		ActorUserID: by.UserID, ActorKeyID: by.KeyID, Action: a,
		TargetType: audit.TargetUser, TargetID: strconv.FormatInt(id, 10), Detail: detail,
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.ErrorContext(ctx, "audit", "action", string(a), "user_id", id, "err", err)
	}
}
