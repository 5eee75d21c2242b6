// Package shortcode turns ids from a durable counter into short codes that
// are unique, fixed-length and not guessable in sequence.
//
// Each id passes through a keyed Feistel network over 42 bits whose round
// function is AES, cycle-walked into [0, 62^7), and is written as seven base62
// characters. The mapping is a bijection, so distinct ids give distinct codes,
// and without the key neighbouring ids give unrelated codes.
package shortcode

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// Length is the number of characters in a generated code.
const Length = 7

// Space is the number of distinct generated codes: 62^7, about 3.5 trillion.
const Space uint64 = 62 * 62 * 62 * 62 * 62 * 62 * 62

const (
	alphabet  = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	halfBits  = 21
	halfMask  = 1<<halfBits - 1
	rounds    = 10 // as FF1 uses for small domains
	keyLength = 32
)

// KeyLength is the size in bytes of a permutation key.
const KeyLength = keyLength

// Permutation is a keyed bijection on [0, Space).
type Permutation struct {
	block cipher.Block
}

// NewPermutation returns the permutation for a 32-byte key.
func NewPermutation(key []byte) (*Permutation, error) {
	if len(key) != keyLength {
		return nil, fmt.Errorf("code key is %d bytes, want %d", len(key), keyLength)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("code key: %w", err)
	}
	return &Permutation{block: b}, nil
}

// ParseKey decodes a key written as 64 hex digits.
func ParseKey(s string) ([]byte, error) {
	k, err := hex.DecodeString(s)
	if err != nil || len(k) != keyLength {
		return nil, errors.New("code key must be 64 hex digits (32 bytes)")
	}
	return k, nil
}

// Fingerprint identifies a key without revealing it.
func Fingerprint(key []byte) string {
	sum := sha256.Sum256(append([]byte("shortlinks code key\x00"), key...))
	return hex.EncodeToString(sum[:8])
}

// round is the Feistel round function: AES of (round, half), cut to 21 bits.
// buf is scratch space, passed in because the cipher makes it escape.
func (p *Permutation) round(buf []byte, r int, half uint64) uint64 {
	clear(buf)
	buf[0] = byte(r)
	binary.BigEndian.PutUint64(buf[8:], half)
	p.block.Encrypt(buf, buf)
	return binary.BigEndian.Uint64(buf[8:]) & halfMask
}

func (p *Permutation) forward(buf []byte, x uint64) uint64 {
	l, r := x>>halfBits, x&halfMask
	for i := range rounds {
		l, r = r, l^p.round(buf, i, r)
	}
	return l<<halfBits | r
}

func (p *Permutation) backward(buf []byte, x uint64) uint64 {
	l, r := x>>halfBits, x&halfMask
	for i := rounds - 1; i >= 0; i-- {
		l, r = r^p.round(buf, i, l), l
	}
	return l<<halfBits | r
}

// Permute maps id in [0, Space) to another number in [0, Space). Walking the
// 42-bit cycle until it lands inside the range keeps the map a bijection.
func (p *Permutation) Permute(id uint64) uint64 {
	buf := make([]byte, aes.BlockSize)
	x := p.forward(buf, id)
	for x >= Space {
		x = p.forward(buf, x)
	}
	return x
}

// Unpermute inverts Permute.
func (p *Permutation) Unpermute(x uint64) uint64 {
	buf := make([]byte, aes.BlockSize)
	id := p.backward(buf, x)
	for id >= Space {
		id = p.backward(buf, id)
	}
	return id
}

// Encode returns the code for id, which must be below Space.
func (p *Permutation) Encode(id uint64) (string, error) {
	if id >= Space {
		return "", fmt.Errorf("id %d is beyond the code space", id)
	}
	return format(p.Permute(id)), nil
}

// Decode returns the id whose code is s. It fails for strings that are not
// seven base62 characters.
func (p *Permutation) Decode(s string) (uint64, error) {
	n, err := parse(s)
	if err != nil {
		return 0, err
	}
	return p.Unpermute(n), nil
}

func format(n uint64) string {
	var b [Length]byte
	for i := Length - 1; i >= 0; i-- {
		b[i] = alphabet[n%62]
		n /= 62
	}
	return string(b[:])
}

func parse(s string) (uint64, error) {
	if len(s) != Length {
		return 0, fmt.Errorf("code %q is not %d characters", s, Length)
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'A' && c <= 'Z':
			d = uint64(c-'A') + 10
		case c >= 'a' && c <= 'z':
			d = uint64(c-'a') + 36
		default:
			return 0, fmt.Errorf("code %q has a character outside base62", s)
		}
		n = n*62 + d
	}
	return n, nil
}
