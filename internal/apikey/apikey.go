// Package apikey issues and checks the bearer keys that guard link
// management. Only a hash of each key is stored; the key itself is shown once.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/link"
)

// Key is a stored API key, without its secret.
type Key struct {
	ID     int64
	Name   string
	Prefix string // the first characters of the key, to tell keys apart
	Hash   []byte // SHA-256 of the whole key
	// Admin is the admin flag that releases before scopes read: set on an
	// ownerless key with the admin scope. Scopes is what counts.
	Admin bool
	// UserID is the user the key belongs to and acts for; 0 is an
	// ownerless service key, which every key made before users is.
	UserID int64
	// Scopes is what the key may do, narrowed at use to what its user may
	// do. Stores read a key stored without scopes (made by an earlier
	// release) as having the scopes its admin flag implies: see
	// LegacyScopes.
	Scopes    Scopes
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	RevokedAt time.Time // zero: active

	// What KeyByHash and ListKeys report of the key's user now, for a key
	// with one: whether they are an admin, and whether they are disabled
	// (or gone).
	OwnerAdmin    bool
	OwnerDisabled bool
}

// Scopes is link.Scopes, the set of permissions of a key.
type Scopes = link.Scopes

// LegacyScopes returns the scopes of a key made before keys had scopes:
// reading and writing links, and admin with the admin flag.
func LegacyScopes(admin bool) Scopes {
	if admin {
		return link.AllScopes
	}
	return link.ScopeLinksRead | link.ScopeLinksWrite
}

// Store keeps API keys.
//
// CreateKey stores k and returns it with its ID set; Scopes zero is stored
// as no scopes, which reads back as LegacyScopes(k.Admin). KeyByHash
// returns ErrNotFound when no key, revoked or not, has that hash.
// RevokeKey returns ErrNotFound for an unknown id and is a no-op for a
// revoked key. KeyByHash and ListKeys fill OwnerAdmin and OwnerDisabled.
type Store interface {
	CreateKey(ctx context.Context, k Key) (Key, error)
	KeyByHash(ctx context.Context, hash []byte) (Key, error)
	ListKeys(ctx context.Context) ([]Key, error)
	RevokeKey(ctx context.Context, id int64, at time.Time) error
}

// ErrNotFound reports a key that does not exist.
var ErrNotFound = errors.New("api key not found")

// Errors the service returns to clients.
var (
	// ErrUnauthenticated is returned for a missing, unknown or revoked
	// key, and for a key whose user is disabled: which of these it was is
	// in the wrapped error's text, for logs, not in the answer.
	ErrUnauthenticated = &link.Error{Kind: link.Unauthenticated, Code: "unauthorized", Message: "Send a valid API key as 'Authorization: Bearer <key>'."}
	// ErrKeyExpired is returned for a key past its expiry. Unlike the
	// other refusals it says why: only someone holding the key can be
	// told, and they need to know to ask for a new one rather than
	// check what they send.
	ErrKeyExpired    = &link.Error{Kind: link.Unauthenticated, Code: "key_expired", Message: "This API key has expired; ask for a new one."}
	ErrForbidden     = &link.Error{Kind: link.Forbidden, Code: "forbidden", Message: "You may not manage that key."}
	ErrKeyNotFound   = &link.Error{Kind: link.NotFound, Code: "key_not_found", Message: "There is no such API key."}
	ErrInvalidName   = &link.Error{Kind: link.Invalid, Code: "invalid_key_name", Field: "name", Message: "A key needs a name of 1 to 200 characters."}
	ErrInvalidExpiry = &link.Error{Kind: link.Invalid, Code: "invalid_expiry", Field: "expires_at", Message: "A key's expiry must be in the future."}
	ErrScopeTooWide  = &link.Error{Kind: link.Forbidden, Code: "scope_not_allowed", Field: "scopes", Message: "A key cannot have a scope that you do not have."}
)

const (
	tokenPrefix = "sl_"
	secretLen   = 26 // the length of rand.Text
	shownLen    = len(tokenPrefix) + 6
)

// Auditor records actions; *audit.Log fits.
type Auditor interface {
	Record(ctx context.Context, e audit.Entry) error
}

// Options configure a Service.
type Options struct {
	Audit Auditor          // records keys made and revoked; nil records nothing
	Log   *slog.Logger     // receives audit failures; nil discards them
	Now   func() time.Time // nil: time.Now
}

// Service creates and checks keys.
type Service struct {
	store Store
	audit Auditor
	log   *slog.Logger
	now   func() time.Time
}

// NewService returns a Service over store that records nothing.
func NewService(store Store) *Service {
	return NewServiceWith(store, Options{})
}

// NewServiceWith returns a Service over store configured by opts.
func NewServiceWith(store Store, opts Options) *Service {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{store: store, audit: opts.Audit, log: opts.Log, now: opts.Now}
}

// operator is whoever runs the server's own commands: it may make any key.
var operator = link.Principal{Admin: true, Scopes: link.AllScopes}

// Create makes an ownerless service key, as the command line does, with
// the scopes admin implies (LegacyScopes), and returns it with the secret
// token, which is not stored and cannot be recovered.
func (s *Service) Create(ctx context.Context, name string, admin bool) (Key, string, error) {
	return s.Issue(ctx, operator, IssueParams{Name: name, Scopes: LegacyScopes(admin)})
}

// IssueParams describe a key to make.
type IssueParams struct {
	Name string
	// UserID is the user the key acts for; 0 makes an ownerless service
	// key, which only an admin may make.
	UserID int64
	// Scopes zero means reading and writing links.
	Scopes    Scopes
	ExpiresAt time.Time // zero: never
}

// Issue makes a key that by asks for and returns it with the secret token,
// which is not stored and cannot be recovered. A member may make keys for
// themselves only, an admin for anyone; nobody may give a key a scope they
// lack, and only an admin the admin scope. At use, a key acts with at most
// its user's role then, whatever its scopes.
func (s *Service) Issue(ctx context.Context, by link.Principal, p IssueParams) (Key, string, error) {
	name := strings.TrimSpace(p.Name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return Key{}, "", ErrInvalidName
	}
	if !by.Admin && (p.UserID == 0 || p.UserID != by.UserID) {
		return Key{}, "", ErrForbidden
	}
	if p.Scopes == 0 {
		p.Scopes = link.ScopeLinksRead | link.ScopeLinksWrite
	}
	if p.Scopes&^link.AllScopes != 0 {
		return Key{}, "", &link.Error{Kind: link.Invalid, Code: "invalid_scope", Field: "scopes", Message: "That is not a scope."}
	}
	if !by.Scopes.Has(p.Scopes) || (p.Scopes.Has(link.ScopeAdmin) && !by.Admin) {
		return Key{}, "", ErrScopeTooWide
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	if !p.ExpiresAt.IsZero() {
		p.ExpiresAt = p.ExpiresAt.UTC().Truncate(time.Microsecond)
		if !p.ExpiresAt.After(now) {
			return Key{}, "", ErrInvalidExpiry
		}
	}
	token := tokenPrefix + rand.Text() // 128 random bits in base32
	sum := sha256.Sum256([]byte(token))
	k, err := s.store.CreateKey(ctx, Key{
		Name:      name,
		Prefix:    token[:shownLen],
		Hash:      sum[:],
		Admin:     p.UserID == 0 && p.Scopes.Has(link.ScopeAdmin),
		UserID:    p.UserID,
		Scopes:    p.Scopes,
		CreatedAt: now,
		ExpiresAt: p.ExpiresAt,
	})
	if err != nil {
		return Key{}, "", fmt.Errorf("create key: %w", err)
	}
	detail := map[string]any{"name": k.Name, "scopes": k.Scopes.Names()}
	if k.UserID != 0 {
		detail["user_id"] = k.UserID
	}
	if !k.ExpiresAt.IsZero() {
		detail["expires_at"] = k.ExpiresAt
	}
	s.record(ctx, by, audit.KeyCreate, k.ID, detail)
	return k, token, nil
}

// Authenticate returns the principal a token stands for, or
// ErrUnauthenticated: for an unknown or revoked key, and for a key whose
// user is disabled; ErrKeyExpired for a key past its expiry. A user's key
// acts with at most the user's role: without the admin scope when the user
// is not an admin. Storage failures are returned as they are.
func (s *Service) Authenticate(ctx context.Context, token string) (link.Principal, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) != len(tokenPrefix)+secretLen {
		return link.Principal{}, ErrUnauthenticated
	}
	sum := sha256.Sum256([]byte(token))
	k, err := s.store.KeyByHash(ctx, sum[:])
	if errors.Is(err, ErrNotFound) {
		return link.Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return link.Principal{}, fmt.Errorf("look up key: %w", err)
	}
	switch {
	case !k.RevokedAt.IsZero():
		return link.Principal{}, fmt.Errorf("key %d is revoked: %w", k.ID, ErrUnauthenticated)
	case !k.ExpiresAt.IsZero() && !s.now().Before(k.ExpiresAt):
		return link.Principal{}, fmt.Errorf("key %d has expired: %w", k.ID, ErrKeyExpired)
	case k.UserID != 0 && k.OwnerDisabled:
		return link.Principal{}, fmt.Errorf("key %d: user %d is disabled: %w", k.ID, k.UserID, ErrUnauthenticated)
	}
	return principal(k), nil
}

// principal is who an active key acts as.
func principal(k Key) link.Principal {
	scopes := k.Scopes
	if k.UserID != 0 && !k.OwnerAdmin {
		scopes &^= link.ScopeAdmin
	}
	return link.Principal{KeyID: k.ID, UserID: k.UserID, Admin: scopes.Has(link.ScopeAdmin), Scopes: scopes}
}

// List returns every key, revoked ones included.
func (s *Service) List(ctx context.Context) ([]Key, error) {
	return s.store.ListKeys(ctx)
}

// ListFor returns the keys by may see, revoked ones included: every key
// for an admin, their own for anyone else.
func (s *Service) ListFor(ctx context.Context, by link.Principal) ([]Key, error) {
	keys, err := s.store.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	if by.Admin {
		return keys, nil
	}
	own := keys[:0]
	for _, k := range keys {
		if by.UserID != 0 && k.UserID == by.UserID {
			own = append(own, k)
		}
	}
	return own, nil
}

// Revoke stops a key from working, as the command line does. Links it
// created stay.
func (s *Service) Revoke(ctx context.Context, id int64) error {
	if err := s.store.RevokeKey(ctx, id, s.now().UTC().Truncate(time.Microsecond)); err != nil {
		return err
	}
	s.record(ctx, operator, audit.KeyRevoke, id, nil)
	return nil
}

// RevokeBy revokes key id for by: an admin may revoke any key, anyone else
// their own. A key by may not revoke is ErrKeyNotFound, like one that does
// not exist.
func (s *Service) RevokeBy(ctx context.Context, by link.Principal, id int64) error {
	keys, err := s.ListFor(ctx, by)
	if err != nil {
		return fmt.Errorf("revoke key %d: %w", id, err)
	}
	if !slices.ContainsFunc(keys, func(k Key) bool { return k.ID == id }) {
		return ErrKeyNotFound
	}
	if err := s.store.RevokeKey(ctx, id, s.now().UTC().Truncate(time.Microsecond)); err != nil {
		if errors.Is(err, ErrNotFound) {
			return ErrKeyNotFound
		}
		return fmt.Errorf("revoke key %d: %w", id, err)
	}
	s.record(ctx, by, audit.KeyRevoke, id, nil)
	return nil
}

// record notes an action on key id in the audit log. A failure does not
// undo the action; the audit log writes the entry to the error log.
func (s *Service) record(ctx context.Context, by link.Principal, a audit.Action, id int64, detail map[string]any) {
	if s.audit == nil {
		return
	}
	err := s.audit.Record(ctx, audit.Entry{
		ActorUserID: by.UserID, ActorKeyID: by.KeyID, Action: a,
		TargetType: audit.TargetKey, TargetID: strconv.FormatInt(id, 10), Detail: detail,
	})
	if err != nil {
		s.log.ErrorContext(ctx, "audit", "action", string(a), "key_id", id, "err", err)
	}
}
