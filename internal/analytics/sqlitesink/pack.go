package sqlitesink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/shortlinks/shortlinks/internal/analytics"
)

// A pack holds the visits of one link from one write, as one row of
// visit_packs. A row per visit cost the writer an insert into the table
// and a second into the link's index, each on a page of its own; under
// load nearly every index page was rewritten to the WAL every second.
// Packed, a write inserts one row and one index entry per link it saw.
//
// The encoding, version 1; integers are varints unless said otherwise:
//
//	version  1 byte: 1
//	visits   uvarint count, then each as:
//	  at       zigzag varint, microseconds since the previous visit's
//	           (the first: since the Unix epoch)
//	  flags    1 byte: bot (bit 0), has a User-Agent (bit 1), address
//	           family (bits 2-3: 0 none, 1 IPv4, 2 IPv6)
//	  ua       8 bytes, little-endian, when flagged
//	  address  0, 4 or 16 bytes
//	  country, language, referrer  uvarint length and bytes
const packVersion = 1

// maxPackVisits bounds the visits of one pack: a link with more in one
// write gets several packs, so that no row grows without bound.
const maxPackVisits = 1024

// Bounds the decoder holds stored data to.
const (
	maxPackString = 1024
	maxPackCount  = 1 << 16
)

var errBadPack = errors.New("sqlitesink: bad visit pack")

const (
	flagBot = 1 << iota
	flagUA
	familyShift = 2
)

// appendPack appends the encoding of vs, all of one link, to dst.
func appendPack(dst []byte, vs []analytics.Visit) []byte {
	dst = append(dst, packVersion)
	dst = binary.AppendUvarint(dst, uint64(len(vs)))
	var prev int64
	for i := range vs {
		v := &vs[i]
		at := v.At / 1000
		dst = binary.AppendVarint(dst, at-prev)
		prev = at
		var flags byte
		if v.Bot {
			flags |= flagBot
		}
		if v.UA != 0 {
			flags |= flagUA
		}
		switch {
		case v.Addr.Is4():
			flags |= 1 << familyShift
		case v.Addr.Is6():
			flags |= 2 << familyShift
		}
		dst = append(dst, flags)
		if v.UA != 0 {
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v.UA))
		}
		if v.Addr.IsValid() {
			dst = append(dst, v.Addr.AsSlice()...)
		}
		for _, s := range [3]string{v.Country, v.Language, v.Referrer} {
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		}
	}
	return dst
}

// decodePack appends the visits of link packed in b to dst.
func decodePack(dst []analytics.Visit, link int64, b []byte) ([]analytics.Visit, error) {
	if len(b) == 0 || b[0] != packVersion {
		return dst, fmt.Errorf("%w: version", errBadPack)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxPackCount || n > uint64(len(b)) {
		return dst, fmt.Errorf("%w: count", errBadPack)
	}
	b = b[k:]
	var at int64
	for range n {
		d, k := binary.Varint(b)
		if k <= 0 || len(b) < k+1 {
			return dst, fmt.Errorf("%w: time", errBadPack)
		}
		at += d
		flags := b[k]
		b = b[k+1:]
		v := analytics.Visit{At: at * 1000, LinkID: link, Bot: flags&flagBot != 0}
		if flags&flagUA != 0 {
			if len(b) < 8 {
				return dst, fmt.Errorf("%w: user agent", errBadPack)
			}
			v.UA = int64(binary.LittleEndian.Uint64(b))
			b = b[8:]
		}
		switch flags >> familyShift & 3 {
		case 0:
		case 1:
			if len(b) < 4 {
				return dst, fmt.Errorf("%w: address", errBadPack)
			}
			v.Addr = netip.AddrFrom4([4]byte(b[:4]))
			b = b[4:]
		case 2:
			if len(b) < 16 {
				return dst, fmt.Errorf("%w: address", errBadPack)
			}
			v.Addr = netip.AddrFrom16([16]byte(b[:16]))
			b = b[16:]
		default:
			return dst, fmt.Errorf("%w: address family", errBadPack)
		}
		for _, s := range [3]*string{&v.Country, &v.Language, &v.Referrer} {
			l, k := binary.Uvarint(b)
			if k <= 0 || l > maxPackString || l > uint64(len(b)-k) {
				return dst, fmt.Errorf("%w: string", errBadPack)
			}
			*s = string(b[k : k+int(l)])
			b = b[k+int(l):]
		}
		dst = append(dst, v)
	}
	if len(b) != 0 {
		return dst, fmt.Errorf("%w: %d trailing bytes", errBadPack, len(b))
	}
	return dst, nil
}
