package cache

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

// Tags that start every value in the Redis tier. A value with an unknown
// tag, written by a later format, reads as absent.
const (
	tagLink    byte = 1
	tagMissing byte = 2 // no link was found: kept for NegativeTTL
	tagDeleted byte = 3 // the link was deleted: no later write may revive it
)

var errCorrupt = errors.New("cache: unreadable value in redis")

// Values that mark a code without a link.
var (
	missingValue = []byte{tagMissing}
	deletedValue = []byte{tagDeleted}
)

// encode writes l compactly: a tag, then the times in microseconds and the
// owner as varints, then the URL. The code is the key, so it is left out.
// A link takes under 20 bytes more than its URL; JSON takes about 120.
func encode(l link.Link) []byte {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(l.URL))
	b = append(b, tagLink)
	b = binary.AppendVarint(b, l.CreatedAt.UnixMicro())
	var exp int64
	if !l.ExpiresAt.IsZero() {
		exp = l.ExpiresAt.UnixMicro()
	}
	b = binary.AppendVarint(b, exp)
	b = binary.AppendVarint(b, l.Owner)
	return append(b, l.URL...)
}

// decode reads a value written by encode, or one of the markers.
func decode(c link.Code, b []byte) (entry, error) {
	if len(b) == 0 {
		return entry{}, errCorrupt
	}
	switch b[0] {
	case tagMissing, tagDeleted:
		return entry{missing: true}, nil
	case tagLink:
	default:
		return entry{}, errCorrupt
	}
	b = b[1:]
	var v [3]int64
	for i := range v {
		n, size := binary.Varint(b)
		if size <= 0 {
			return entry{}, errCorrupt
		}
		v[i], b = n, b[size:]
	}
	l := link.Link{Code: c, URL: string(b), CreatedAt: time.UnixMicro(v[0]).UTC(), Owner: v[2]}
	if v[1] != 0 {
		l.ExpiresAt = time.UnixMicro(v[1]).UTC()
	}
	return entry{link: l}, nil
}
