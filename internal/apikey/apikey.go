// Package apikey issues and checks the bearer keys that guard link
// management. Only a hash of each key is stored; the key itself is shown once.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

// Key is a stored API key, without its secret.
type Key struct {
	ID        int64
	Name      string
	Prefix    string // the first characters of the key, to tell keys apart
	Hash      []byte // SHA-256 of the whole key
	Admin     bool
	CreatedAt time.Time
	RevokedAt time.Time // zero: active
}

// Store keeps API keys.
//
// CreateKey stores k and returns it with its ID set. KeyByHash returns
// ErrNotFound when no key, revoked or not, has that hash. RevokeKey returns
// ErrNotFound for an unknown id and is a no-op for a revoked key.
type Store interface {
	CreateKey(ctx context.Context, k Key) (Key, error)
	KeyByHash(ctx context.Context, hash []byte) (Key, error)
	ListKeys(ctx context.Context) ([]Key, error)
	RevokeKey(ctx context.Context, id int64, at time.Time) error
}

// ErrNotFound reports a key that does not exist.
var ErrNotFound = errors.New("api key not found")

// ErrUnauthenticated is returned for a missing, unknown or revoked key.
var ErrUnauthenticated = &link.Error{Kind: link.Unauthenticated, Code: "unauthorized", Message: "Send a valid API key as 'Authorization: Bearer <key>'."}

const (
	tokenPrefix = "sl_"
	secretLen   = 26 // the length of rand.Text
	shownLen    = len(tokenPrefix) + 6
)

// Service creates and checks keys.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service over store.
func NewService(store Store) *Service {
	return &Service{store: store, now: time.Now}
}

// Create makes a key and returns it with the secret token, which is not
// stored and cannot be recovered.
func (s *Service) Create(ctx context.Context, name string, admin bool) (Key, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return Key{}, "", errors.New("a key needs a name of 1 to 200 characters")
	}
	token := tokenPrefix + rand.Text() // 128 random bits in base32
	sum := sha256.Sum256([]byte(token))
	k, err := s.store.CreateKey(ctx, Key{
		Name:      name,
		Prefix:    token[:shownLen],
		Hash:      sum[:],
		Admin:     admin,
		CreatedAt: s.now().UTC().Truncate(time.Microsecond),
	})
	if err != nil {
		return Key{}, "", fmt.Errorf("create key: %w", err)
	}
	return k, token, nil
}

// Authenticate returns the principal a token stands for, or
// ErrUnauthenticated. Storage failures are returned as they are.
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
	if !k.RevokedAt.IsZero() {
		return link.Principal{}, ErrUnauthenticated
	}
	return link.Principal{KeyID: k.ID, Admin: k.Admin}, nil
}

// List returns every key, revoked ones included.
func (s *Service) List(ctx context.Context) ([]Key, error) {
	return s.store.ListKeys(ctx)
}

// Revoke stops a key from working. Links it created stay.
func (s *Service) Revoke(ctx context.Context, id int64) error {
	return s.store.RevokeKey(ctx, id, s.now().UTC().Truncate(time.Microsecond))
}
