// Package password hashes secrets with argon2id and checks them against
// their hashes. Hashes are PHC strings that carry their own parameters, so
// the parameters can be raised later: a hash made with other parameters
// still verifies, and Verify says when it should be made again.
//
// It is used for account passwords and is meant for link passwords too; it
// imports nothing else from this module.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters of a hash.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes, each computed on its own goroutine
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// Default is what new hashes use: 64 MiB, two passes, one lane. On the
// two-core servers Shortlinks is sized for, one hash costs about 0.1–0.2 s
// of one core's time (docs/architecture.md has the measurements). One lane
// keeps a sign-in on one core, leaving the other to redirects; two passes
// over 64 MiB is above OWASP's minimum (46 MiB, one pass) and makes each
// guess of an attacker holding the hashes cost 64 MiB-seconds of memory.
var Default = Params{Memory: 64 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on the parameters a stored hash may name, so that a hash written
// by hand or by a bad import cannot make one check allocate gigabytes.
const (
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 64
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

// ErrMalformed reports a hash that is not an argon2id PHC string this
// package can check.
var ErrMalformed = errors.New("password: not an argon2id hash")

// Hasher hashes and checks passwords. Each hash holds Params.Memory for its
// duration, so a Hasher runs at most a fixed number at once and makes the
// rest wait: a burst of sign-ins costs time, not memory.
type Hasher struct {
	params Params
	slots  chan struct{}
	count  atomic.Uint64
}

// New returns a Hasher that makes hashes with p and runs at most
// concurrent hashes at once. Zero concurrent means half the processors
// Go may use, at least one.
func New(p Params, concurrent int) (*Hasher, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen {
		return nil, fmt.Errorf("password: salt length %d is outside %d–%d", p.SaltLen, minSaltLen, maxSaltLen)
	}
	if concurrent <= 0 {
		concurrent = max(1, runtime.GOMAXPROCS(0)/2)
	}
	return &Hasher{params: p, slots: make(chan struct{}, concurrent)}, nil
}

func (p Params) check() error {
	switch {
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("password: memory %d KiB is outside %d KiB–1 GiB", p.Memory, 8*uint32(p.Threads))
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("password: time %d is outside 1–%d", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("password: threads must be at least 1")
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("password: key length %d is outside %d–%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// Params returns the parameters new hashes use.
func (h *Hasher) Params() Params { return h.params }

// Hashes returns how many hashes h has computed, checks included.
func (h *Hasher) Hashes() uint64 { return h.count.Load() }

// Hash returns the PHC string of a new hash of secret with a random salt.
// It waits for a free slot, or returns ctx's error.
func (h *Hasher) Hash(ctx context.Context, secret string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	rand.Read(salt)
	key, err := h.derive(ctx, secret, salt, h.params)
	if err != nil {
		return "", err
	}
	return encode(h.params, salt, key), nil
}

// Decoy returns a hash with h's parameters that no secret matches, its key
// being random. Checking a secret against it costs what checking against a
// real hash costs, for a caller that must not reveal that there was none.
func (h *Hasher) Decoy() string {
	salt := make([]byte, h.params.SaltLen)
	key := make([]byte, h.params.KeyLen)
	rand.Read(salt)
	rand.Read(key)
	return encode(h.params, salt, key)
}

// Verify reports whether secret matches hash, comparing in constant time,
// and whether hash should be replaced by a new Hash of secret because it
// was made with other parameters than h's. A hash that cannot be read is
// ErrMalformed; it costs no hashing, so callers that must not reveal it
// check against a hash of their own instead.
func (h *Hasher) Verify(ctx context.Context, hash, secret string) (ok, rehash bool, err error) {
	p, salt, want, err := Decode(hash)
	if err != nil {
		return false, false, err
	}
	got, err := h.derive(ctx, secret, salt, p)
	if err != nil {
		return false, false, err
	}
	ok = subtle.ConstantTimeCompare(got, want) == 1
	rehash = p != h.params
	return ok, rehash, nil
}

func (h *Hasher) derive(ctx context.Context, secret string, salt []byte, p Params) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("password: waiting to hash: %w", ctx.Err())
	}
	defer func() { <-h.slots }()
	h.count.Add(1)
	return argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

// b64 is the PHC strings' Base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding

func encode(p Params, salt, key []byte) string {
	var b strings.Builder
	b.Grow(64 + b64.EncodedLen(len(salt)) + b64.EncodedLen(len(key)))
	b.WriteString("$argon2id$v=")
	b.WriteString(strconv.Itoa(argon2.Version))
	b.WriteString("$m=")
	b.WriteString(strconv.FormatUint(uint64(p.Memory), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(p.Time), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(p.Threads), 10))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(salt))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(key))
	return b.String()
}

// Decode reads an argon2id PHC string,
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>, and returns its
// parameters, salt and hash. It accepts only version 19, the parameters in
// that order, and values within the bounds this package allows.
func Decode(s string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, ErrMalformed
	}
	m, rest, ok1 := param(parts[3], "m=", ',')
	t, rest, ok2 := param(rest, "t=", ',')
	th, rest, ok3 := param(rest, "p=", 0)
	if !ok1 || !ok2 || !ok3 || rest != "" || th > 255 {
		return Params{}, nil, nil, ErrMalformed
	}
	p = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(th)}
	// The decoder skips line breaks; a hash has none.
	if strings.ContainsAny(parts[4], "\r\n") || strings.ContainsAny(parts[5], "\r\n") {
		return Params{}, nil, nil, ErrMalformed
	}
	if salt, err = b64.Strict().DecodeString(parts[4]); err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return Params{}, nil, nil, ErrMalformed
	}
	if key, err = b64.Strict().DecodeString(parts[5]); err != nil {
		return Params{}, nil, nil, ErrMalformed
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if p.check() != nil {
		return Params{}, nil, nil, ErrMalformed
	}
	return p, salt, key, nil
}

// param reads name, then a decimal without leading zeros up to 2^32-1, then
// sep (or the end when sep is 0), and returns the number and what follows.
func param(s, name string, sep byte) (uint64, string, bool) {
	if !strings.HasPrefix(s, name) {
		return 0, "", false
	}
	s = s[len(name):]
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 10 || (i > 1 && s[0] == '0') {
		return 0, "", false
	}
	n, err := strconv.ParseUint(s[:i], 10, 32)
	if err != nil {
		return 0, "", false
	}
	s = s[i:]
	if sep != 0 {
		if s == "" || s[0] != sep {
			return 0, "", false
		}
		s = s[1:]
	}
	return n, s, true
}
