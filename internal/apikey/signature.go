package apikey

import (
	"context"
	"crypto/md5" //nolint:gosec // YOURLS' time-limited signatures are MD5 by default; see SignedBy
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

// SignatureLife is how far a signed timestamp may be from now, either way,
// as YOURLS allows (its nonce life, 12 hours).
const SignatureLife = 12 * time.Hour

// SignatureToken is the token that YOURLS-style "passwordless" API clients
// sign requests with for k: derived from the key's hash, so it lives and
// dies with the key, and as powerful as the key itself.
func SignatureToken(k Key) string {
	sum := sha256.Sum256(append([]byte("shortlinks yourls signature\x00"), k.Hash...))
	return hex.EncodeToString(sum[:16])
}

// signatureHashes are the digests a signed request may name in "hash".
var signatureHashes = map[string]func() hash.Hash{
	"": md5.New, "md5": md5.New, "sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New,
}

// SignedBy returns the principal of the key whose signature token
// signature is, or, when timestamp is set, whose token signs it: signature
// is then hex(H(timestamp + token)) with H named by algo (md5 when empty),
// and the timestamp must be within SignatureLife of now. A signature that
// is a whole API key authenticates as the key. Finding the key means
// checking every active key's token, so the cost grows with the number of
// keys. It returns ErrUnauthenticated for anything that matches no usable
// key.
func (s *Service) SignedBy(ctx context.Context, signature, timestamp, algo string) (link.Principal, error) {
	if signature == "" {
		return link.Principal{}, ErrUnauthenticated
	}
	if timestamp == "" {
		if p, err := s.Authenticate(ctx, signature); err == nil {
			return p, nil
		}
	}
	newHash, ok := signatureHashes[algo]
	if !ok {
		return link.Principal{}, fmt.Errorf("signature hash %q: %w", algo, ErrUnauthenticated)
	}
	now := s.now()
	if timestamp != "" {
		ts, err := strconv.ParseInt(timestamp, 10, 64)
		if err != nil {
			return link.Principal{}, fmt.Errorf("signature timestamp %q: %w", timestamp, ErrUnauthenticated)
		}
		if d := now.Sub(time.Unix(ts, 0)); d > SignatureLife || d < -SignatureLife {
			return link.Principal{}, fmt.Errorf("signature timestamp %s is stale: %w", timestamp, ErrUnauthenticated)
		}
	}
	keys, err := s.store.ListKeys(ctx)
	if err != nil {
		return link.Principal{}, fmt.Errorf("list keys: %w", err)
	}
	for _, k := range keys {
		want := SignatureToken(k)
		if timestamp != "" {
			h := newHash()
			h.Write([]byte(timestamp + want))
			want = hex.EncodeToString(h.Sum(nil))
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(signature)) != 1 {
			continue
		}
		if err := usable(k, now); err != nil {
			return link.Principal{}, err
		}
		return principal(k), nil
	}
	return link.Principal{}, ErrUnauthenticated
}

// usable refuses a key that is revoked, expired or whose user is
// disabled.
func usable(k Key, now time.Time) error {
	switch {
	case !k.RevokedAt.IsZero():
		return fmt.Errorf("key %d is revoked: %w", k.ID, ErrUnauthenticated)
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return fmt.Errorf("key %d has expired: %w", k.ID, ErrUnauthenticated)
	case k.UserID != 0 && k.OwnerDisabled:
		return fmt.Errorf("key %d: user %d is disabled: %w", k.ID, k.UserID, ErrUnauthenticated)
	}
	return nil
}
