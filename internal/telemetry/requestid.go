package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// MaxRequestIDLength bounds a request id taken from a client or gateway.
const MaxRequestIDLength = 128

// ValidRequestID reports whether id, as sent in X-Request-ID, may be used as
// it is: 1 to 128 visible ASCII characters, so it can go into logs and
// headers unescaped. Anything else is replaced by a new id.
func ValidRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// RequestIDs makes request ids: a random prefix, fixed for the process, and
// a counter. They are unique across instances without a random read per
// request; they need not be secret.
type RequestIDs struct {
	prefix string
	n      atomic.Uint64
}

// NewRequestIDs returns a generator with a fresh random prefix.
func NewRequestIDs() *RequestIDs {
	b := make([]byte, 8)
	rand.Read(b)
	return &RequestIDs{prefix: hex.EncodeToString(b) + "-"}
}

// Next returns a new id, like "9f86d081884c7d65-1a".
func (g *RequestIDs) Next() string {
	var buf [40]byte
	b := append(buf[:0], g.prefix...)
	return string(strconv.AppendUint(b, g.n.Add(1), 16))
}
