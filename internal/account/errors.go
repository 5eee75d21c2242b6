package account

import (
	"strconv"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

// Errors the package returns; callers compare with errors.Is, and the edge
// shows Code and Message.
//
// Signing in fails with ErrInvalidCredentials whatever the reason: an
// unknown email, a wrong password or a disabled user. Telling them apart
// would let anyone learn which addresses have accounts, and confirm a
// guessed password of a disabled one; the reason is in the wrapped error's
// text, for logs.
var (
	ErrInvalidCredentials = &link.Error{Kind: link.Unauthenticated, Code: "invalid_credentials",
		Message: "The email address or the password is not right."}
	ErrTooManyAttempts = &link.Error{Kind: link.TooManyRequests, Code: "too_many_attempts",
		Message: "Too many sign-in attempts; wait a while and try again."}
	ErrNotSignedIn = &link.Error{Kind: link.Unauthenticated, Code: "not_signed_in",
		Message: "Sign in to continue."}
	ErrForbidden = &link.Error{Kind: link.Forbidden, Code: "forbidden",
		Message: "Only administrators may do that."}
	ErrUserNotFound = &link.Error{Kind: link.NotFound, Code: "user_not_found",
		Message: "There is no such user."}
	ErrEmailTaken = &link.Error{Kind: link.Conflict, Code: "email_taken", Field: "email",
		Message: "A user with that email address exists already."}
	ErrLastAdmin = &link.Error{Kind: link.Conflict, Code: "last_admin",
		Message: "This is the last active administrator; make another user an administrator first."}
	ErrInvalidEmail = &link.Error{Kind: link.Invalid, Code: "invalid_email", Field: "email",
		Message: "Give an email address such as name@example.com."}
	ErrInvalidRole = &link.Error{Kind: link.Invalid, Code: "invalid_role", Field: "role",
		Message: "The role must be admin or member."}
)

// Password rules, in characters (Unicode code points, after NFKC
// normalisation). Length is what makes a password hard to guess, so there
// are no rules about character classes; the upper bound only keeps
// requests small.
const (
	MinPasswordLength = 12
	MaxPasswordLength = 256
)

func errPassword(msg string) *link.Error {
	return &link.Error{Kind: link.Invalid, Code: "invalid_password", Field: "password", Message: msg}
}

func errDomain(d string) *link.Error {
	if len(d) > 80 {
		d = d[:80] + "…"
	}
	return &link.Error{Kind: link.Invalid, Code: "invalid_domain", Field: "domains",
		Message: strconv.Quote(d) + " is not a domain name such as links.example.com."}
}

// ThrottledError is ErrTooManyAttempts with the time after which another
// attempt may succeed, for a Retry-After header. errors.Is(err,
// ErrTooManyAttempts) matches it.
type ThrottledError struct {
	Wait time.Duration
}

func (e *ThrottledError) Error() string { return ErrTooManyAttempts.Error() }

// Unwrap returns ErrTooManyAttempts.
func (e *ThrottledError) Unwrap() error { return ErrTooManyAttempts }

// RetryAfter returns how long to wait, at least a second.
func (e *ThrottledError) RetryAfter() time.Duration { return max(e.Wait, time.Second) }
