package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/password"
)

// SignIn checks a user's email and password and returns the user. addr is
// the client's address as the caller keys rate limits on it (an IPv6
// client by its /64, for example); empty skips the address limit.
//
// Every failure is ErrInvalidCredentials, and every attempt that gets past
// the rate limits costs one password hash: an unknown email is checked
// against a decoy hash, and a disabled user's password is checked before
// they are refused, so neither the answer nor its timing tells an unknown
// address, a wrong password and a disabled user apart. Attempts beyond
// the limits are a *ThrottledError, refused before any hashing. A hash
// made with older parameters is replaced on a successful sign-in.
func (s *Service) SignIn(ctx context.Context, email, pw, addr string) (User, error) {
	// Nothing about the account is read before the limits: the refusal
	// is the same for every address.
	key, err := NormalizeEmail(email)
	if err != nil {
		key = "invalid"
	}
	if err := s.limit(ctx, addr, key); err != nil {
		return User{}, err
	}
	var u User
	var hash string
	if key != "invalid" {
		u, hash, err = s.store.UserByEmail(ctx, key)
		if err != nil && !errors.Is(err, ErrUserNotFound) {
			return User{}, fmt.Errorf("sign in: %w", err)
		}
	}
	ok, err := s.check(ctx, hash, pw)
	if err != nil {
		return User{}, fmt.Errorf("sign in: %w", err)
	}
	switch {
	case u.ID == 0:
		return User{}, fmt.Errorf("sign in: no such user: %w", ErrInvalidCredentials)
	case !ok:
		return User{}, fmt.Errorf("sign in: user %d: wrong password: %w", u.ID, ErrInvalidCredentials)
	case u.Disabled():
		return User{}, fmt.Errorf("sign in: user %d is disabled: %w", u.ID, ErrInvalidCredentials)
	}
	s.upgrade(ctx, u.ID, hash, pw)
	return u, nil
}

// limit takes an attempt from the address's and the email's allowance,
// the address first so that a refused address spends none of the email's.
func (s *Service) limit(ctx context.Context, addr, email string) error {
	if s.byAddr != nil && addr != "" {
		d, err := s.byAddr.Allow(ctx, "signin:addr:"+addr)
		if err != nil {
			return fmt.Errorf("sign-in limit: %w", err)
		}
		if !d.Allowed {
			return &ThrottledError{Wait: d.RetryAfter}
		}
	}
	if s.byEmail != nil {
		d, err := s.byEmail.Allow(ctx, "signin:email:"+email)
		if err != nil {
			return fmt.Errorf("sign-in limit: %w", err)
		}
		if !d.Allowed {
			return &ThrottledError{Wait: d.RetryAfter}
		}
	}
	return nil
}

// check reports whether pw matches hash, spending one hash whatever hash
// is: against the decoy when there is none or it cannot be read. A
// password that breaks the length rules cannot match, but is hashed all
// the same, up to the longest a password may be.
func (s *Service) check(ctx context.Context, hash, pw string) (bool, error) {
	if len(pw) > 4*MaxPasswordLength {
		pw = pw[:4*MaxPasswordLength]
	}
	pw, perr := normalizePassword(pw)
	_, _, _, herr := password.Decode(hash)
	if herr != nil {
		hash = s.decoy
	}
	ok, _, err := s.hasher.Verify(ctx, hash, pw)
	if err != nil {
		return false, err
	}
	return ok && perr == nil && herr == nil, nil
}

// upgrade replaces hash with one made with the current parameters when it
// was made with others. It runs after a successful sign-in, the one time
// the password is at hand; a failure is logged, not returned.
func (s *Service) upgrade(ctx context.Context, id int64, hash, pw string) {
	p, _, _, err := password.Decode(hash)
	if err != nil || p == s.hasher.Params() {
		return
	}
	pw, err = normalizePassword(pw)
	if err != nil {
		return
	}
	fresh, err := s.hasher.Hash(ctx, pw)
	if err == nil {
		// Only over the hash just checked: a reset in the meantime wins.
		err = s.store.SetUserPassword(ctx, id, fresh, hash)
	}
	if err != nil {
		s.log.WarnContext(ctx, "password hash not upgraded", "user_id", id, "err", err)
	}
}

// EnsureAdmin makes an admin with email and password if there are no users
// yet, as a container's first start does from its environment, and
// reports whether it made one. It is idempotent, and safe when several
// instances start at once: the store makes the first user at most once.
// Once any user exists it does nothing, even if the password differs;
// the email and password are checked as Create checks them either way, so
// a bad setting is reported on every start.
func (s *Service) EnsureAdmin(ctx context.Context, email, pw string) (User, bool, error) {
	if _, err := NormalizeEmail(email); err != nil {
		return User{}, false, fmt.Errorf("first admin: %w", err)
	}
	if _, err := normalizePassword(pw); err != nil {
		return User{}, false, fmt.Errorf("first admin: %w", err)
	}
	// Skip the hashing on every start but the first.
	some, err := s.store.ListUsers(ctx, 0, 1)
	if err != nil {
		return User{}, false, fmt.Errorf("first admin: %w", err)
	}
	if len(some) > 0 {
		return User{}, false, nil
	}
	u, hash, err := s.prepare(ctx, NewUser{Email: email, Password: pw, Role: RoleAdmin})
	if err != nil {
		return User{}, false, fmt.Errorf("first admin: %w", err)
	}
	u, made, err := s.store.CreateFirstUser(ctx, u, hash)
	if err != nil {
		return User{}, false, fmt.Errorf("first admin: %w", err)
	}
	if !made {
		return User{}, false, nil
	}
	s.record(ctx, Operator, audit.UserCreate, u.ID, map[string]any{"email": u.Email, "role": u.Role, "first_admin": true})
	return u, true, nil
}
