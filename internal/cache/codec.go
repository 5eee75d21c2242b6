package cache

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

// Tags that start every value in the Redis tier. A value with an unknown
// tag, written by a later format, reads as absent.
const (
	// Tag 1 was a link without its id, and tag 4 a link without its
	// options. Both read as absent: the code is looked up in the next tier,
	// whose answer is cached in process. Tag 4 must not be trusted during
	// a rolling upgrade: an older instance writes it for a link it read
	// without its options, disabled or not. Such values leave Redis with
	// their TTL.
	tagMissing byte = 2 // no link was found: kept for NegativeTTL
	tagDeleted byte = 3 // the link was deleted: no later write may revive it
	tagLink    byte = 5 // a link: flags, id, times, owner, the options it has, URL
)

// Flags say which options a tagLink value carries, each right after the
// fixed fields in the order of the bits. A plain link has none: it costs
// one byte more than before options existed, and decodes as fast.
const (
	flagUser         byte = 1 << iota // varint user id
	flagDisabled                      // varint DisabledAt, µs
	flagValidFrom                     // varint ValidFrom, µs
	flagMaxVisits                     // varint MaxVisits
	flagPassword                      // uvarint length, then the hash
	flagRules                         // uvarint length, then the rules as JSON
	flagForwardQuery                  // no data
)

var errCorrupt = errors.New("cache: unreadable value in redis")

// Values that mark a code without a link.
var (
	missingValue = []byte{tagMissing}
	deletedValue = []byte{tagDeleted}
)

// encode writes l compactly: a tag, the flags, then the id, the times in
// microseconds and the owner as varints, the options the flags name, then
// the URL. The code is the key, so it is left out. What only the people
// managing a link read (title, tags, the reason it was disabled) is left out
// too: the redirect never needs it, and the API reads it from the database.
// A plain link takes under 20 bytes more than its URL; JSON takes about 120.
func encode(l link.Link) []byte {
	var flags byte
	var rules []byte
	if !l.Plain() || l.UserID != 0 {
		flags = optionFlags(l)
		if flags&flagRules != 0 {
			// Rules came from JSON and hold only strings: Marshal cannot fail.
			rules, _ = json.Marshal(l.Rules)
		}
	}
	b := make([]byte, 0, 2+4*binary.MaxVarintLen64+len(l.URL))
	b = append(b, tagLink, flags)
	b = binary.AppendVarint(b, l.ID)
	b = binary.AppendVarint(b, l.CreatedAt.UnixMicro())
	var exp int64
	if !l.ExpiresAt.IsZero() {
		exp = l.ExpiresAt.UnixMicro()
	}
	b = binary.AppendVarint(b, exp)
	b = binary.AppendVarint(b, l.Owner)
	if flags != 0 {
		b = appendOptions(b, l, flags, rules)
	}
	return append(b, l.URL...)
}

func optionFlags(l link.Link) byte {
	var f byte
	if l.UserID != 0 {
		f |= flagUser
	}
	if !l.DisabledAt.IsZero() {
		f |= flagDisabled
	}
	if !l.ValidFrom.IsZero() {
		f |= flagValidFrom
	}
	if l.MaxVisits != 0 {
		f |= flagMaxVisits
	}
	if l.PasswordHash != "" {
		f |= flagPassword
	}
	if len(l.Rules) > 0 {
		f |= flagRules
	}
	if l.ForwardQuery {
		f |= flagForwardQuery
	}
	return f
}

func appendOptions(b []byte, l link.Link, flags byte, rules []byte) []byte {
	if flags&flagUser != 0 {
		b = binary.AppendVarint(b, l.UserID)
	}
	if flags&flagDisabled != 0 {
		b = binary.AppendVarint(b, l.DisabledAt.UnixMicro())
	}
	if flags&flagValidFrom != 0 {
		b = binary.AppendVarint(b, l.ValidFrom.UnixMicro())
	}
	if flags&flagMaxVisits != 0 {
		b = binary.AppendVarint(b, l.MaxVisits)
	}
	if flags&flagPassword != 0 {
		b = binary.AppendUvarint(b, uint64(len(l.PasswordHash)))
		b = append(b, l.PasswordHash...)
	}
	if flags&flagRules != 0 {
		b = binary.AppendUvarint(b, uint64(len(rules)))
		b = append(b, rules...)
	}
	return b
}

// decode reads a value written by encode, or one of the markers.
func decode(_ link.Code, b []byte) (entry, error) {
	if len(b) < 2 {
		if len(b) == 1 && (b[0] == tagMissing || b[0] == tagDeleted) {
			return entry{missing: true}, nil
		}
		return entry{}, errCorrupt
	}
	switch b[0] {
	case tagMissing, tagDeleted:
		return entry{missing: true}, nil
	case tagLink:
	default:
		return entry{}, errCorrupt
	}
	flags := b[1]
	if flags&^(flagForwardQuery<<1-1) != 0 {
		return entry{}, errCorrupt // a flag from a later format
	}
	b = b[2:]
	var v [4]int64
	for i := range v {
		n, size := binary.Varint(b)
		if size <= 0 {
			return entry{}, errCorrupt
		}
		v[i], b = n, b[size:]
	}
	// The entry is built directly: a link.Link is three times its size.
	e := entry{id: v[0], created: time.UnixMicro(v[1]).UTC(), owner: v[3]}
	if v[2] != 0 {
		e.expires = time.UnixMicro(v[2]).UTC()
	}
	if flags != 0 {
		e.opts = new(options)
		var err error
		if b, err = readOptions(e.opts, flags, b); err != nil {
			return entry{}, err
		}
	}
	e.url = string(b)
	return e, nil
}

func readOptions(l *options, flags byte, b []byte) ([]byte, error) {
	varint := func() (int64, bool) {
		n, size := binary.Varint(b)
		if size <= 0 {
			return 0, false
		}
		b = b[size:]
		return n, true
	}
	bytes := func() ([]byte, bool) {
		n, size := binary.Uvarint(b)
		if size <= 0 || n > uint64(len(b)-size) {
			return nil, false
		}
		out := b[size : size+int(n)]
		b = b[size+int(n):]
		return out, true
	}
	ok := true
	var n int64
	if flags&flagUser != 0 && ok {
		l.userID, ok = varint()
	}
	if flags&flagDisabled != 0 && ok {
		n, ok = varint()
		l.disabledAt = time.UnixMicro(n).UTC()
	}
	if flags&flagValidFrom != 0 && ok {
		n, ok = varint()
		l.validFrom = time.UnixMicro(n).UTC()
	}
	if flags&flagMaxVisits != 0 && ok {
		l.maxVisits, ok = varint()
	}
	if flags&flagPassword != 0 && ok {
		var h []byte
		h, ok = bytes()
		l.passwordHash = string(h)
	}
	if flags&flagRules != 0 && ok {
		var raw []byte
		if raw, ok = bytes(); ok {
			ok = json.Unmarshal(raw, &l.rules) == nil
		}
	}
	l.forwardQuery = flags&flagForwardQuery != 0
	if !ok {
		return nil, errCorrupt
	}
	return b, nil
}
