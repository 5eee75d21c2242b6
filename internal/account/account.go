// Package account owns the people who manage links: users, their
// passwords and roles, signing in, and the server-side sessions that keep
// them signed in. It sits below HTTP: the dashboard and the command line
// call it, and the storage engines implement its Store and SessionStore.
//
// It is called account rather than user: it owns more than the user record
// (credentials, sign-in, sessions), and user is the name every caller wants
// for its own variables.
package account

import (
	"context"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

// Role is what a user may do.
type Role string

// The roles. Admins see and manage everything; members manage their own
// links and keys.
const (
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleMember }

// User is a person who signs in to manage links.
type User struct {
	ID         int64
	Email      string // normalised: see NormalizeEmail
	Role       Role
	CreatedAt  time.Time
	DisabledAt time.Time // zero: active
	// Domains are the branded domains a member may make links on, besides
	// the default one; admins may use every domain.
	Domains []string
	// SessionEpoch counts the times all of the user's sessions were ended.
	// A session remembers the value it began with and is void once it
	// changes.
	SessionEpoch int64
}

// Disabled reports whether u may not sign in or act.
func (u User) Disabled() bool { return !u.DisabledAt.IsZero() }

// Principal returns who u is when signed in: a user acting with every
// scope their role allows.
func (u User) Principal() link.Principal {
	p := link.Principal{UserID: u.ID, Scopes: link.ScopeLinksRead | link.ScopeLinksWrite}
	if u.Role == RoleAdmin {
		p.Admin, p.Scopes = true, link.AllScopes
	}
	return p
}

// Operator is the principal of someone at the server itself: the command
// line, or start-up configuration. It acts as an admin; the audit log
// records it with neither a user nor a key.
var Operator = link.Principal{Admin: true, Scopes: link.AllScopes}

// Store keeps users. Emails are passed normalised; stores compare them
// case-insensitively as well, so that rows written by other means cannot
// make two users of one address.
//
// CreateUser stores u with the password hash and returns it with its ID
// set; ErrEmailTaken if a user has that email.
// CreateFirstUser does the same only if no user has ever been made this
// way and there is no user at all, atomically even across processes; it
// reports whether it made the user.
// UserByID and UserByEmail return the user and its password hash, or
// ErrUserNotFound.
// ListUsers returns up to limit users with IDs above after, by ID.
// SetUserPassword replaces the hash; when ifHash is not empty, only if the
// stored hash is still ifHash, doing nothing otherwise.
// SetUserRole and SetUserDisabled (a zero at enables) return
// ErrLastAdmin rather than leave no active admin, checked atomically.
// SetUserDomains replaces the user's domains.
// Each of the Set methods returns ErrUserNotFound for an unknown id.
// EndSessions voids every session of the user, by adding one to its
// SessionEpoch, deletes their rows and returns how many; ErrUserNotFound
// for an unknown id.
type Store interface {
	CreateUser(ctx context.Context, u User, hash string) (User, error)
	CreateFirstUser(ctx context.Context, u User, hash string) (User, bool, error)
	UserByID(ctx context.Context, id int64) (User, string, error)
	UserByEmail(ctx context.Context, email string) (User, string, error)
	ListUsers(ctx context.Context, after int64, limit int) ([]User, error)
	SetUserPassword(ctx context.Context, id int64, hash, ifHash string) error
	SetUserRole(ctx context.Context, id int64, role Role) error
	SetUserDisabled(ctx context.Context, id int64, at time.Time) error
	SetUserDomains(ctx context.Context, id int64, domains []string) error
	EndSessions(ctx context.Context, userID int64) (int64, error)
}
