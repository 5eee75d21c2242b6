package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
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
	// blocks holds *idBlock, per P: Header takes ids from the block of the
	// P it runs on, so that a request allocates nothing and shares no
	// counter with other cores.
	blocks sync.Pool
}

// idBlock is a run of idsPerBlock consecutive ids made at once: one string
// holding all of them and the one-element header values that refer to it.
// A value is handed out once and never written again, so a response may
// hold it for as long as it likes.
type idBlock struct {
	vals [idsPerBlock]string
	next int
}

// idsPerBlock trades a few kilobytes kept alive by the oldest id still
// referenced against two allocations per block instead of two per request.
const idsPerBlock = 64

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

// Header returns a new id as a header value, a slice of one string that no
// one else holds. It allocates once per idsPerBlock calls rather than twice
// per call: ids come in blocks of consecutive numbers, so ids handed out on
// different cores interleave rather than follow each other.
func (g *RequestIDs) Header() []string {
	b, _ := g.blocks.Get().(*idBlock)
	if b == nil || b.next == idsPerBlock {
		b = g.newBlock()
	}
	v := b.vals[b.next : b.next+1 : b.next+1]
	b.next++
	g.blocks.Put(b)
	return v
}

func (g *RequestIDs) newBlock() *idBlock {
	first := g.n.Add(idsPerBlock) - idsPerBlock + 1
	buf := make([]byte, 0, idsPerBlock*(len(g.prefix)+16))
	var ends [idsPerBlock]int
	for i := range ends {
		buf = append(buf, g.prefix...)
		buf = strconv.AppendUint(buf, first+uint64(i), 16)
		ends[i] = len(buf)
	}
	all := string(buf)
	b := &idBlock{}
	start := 0
	for i, end := range ends {
		b.vals[i] = all[start:end]
		start = end
	}
	return b
}
