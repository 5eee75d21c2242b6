package sqlitesink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"

	"github.com/shortlinks/shortlinks/internal/analytics"
)

// A pack holds the visits of one link from one write. A row per visit
// cost the writer an insert into the table and a second into the link's
// index, each on a page of its own; under load nearly every index page was
// rewritten to the WAL every second. Packed, a write inserted one row per
// link it saw (version 1, the row's link_id and prev columns naming the
// link and its pack before); a row per link was still most of the
// writer's statements under traffic spread over many links, so a row now
// holds the packs of up to maxPacksPerRow links (version 2, below), each
// with the row of its link's pack before.
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
//
// Version 2, a row of many links' packs:
//
//	version  1 byte: 2
//	packs    uvarint count, then each as:
//	  link     varint, difference from the previous pack's link (the
//	           first: from 0); increasing
//	  prev     uvarint, the rowid of the row with the link's pack before
//	           this one, 0 for none
//	  pack     uvarint length, then a version 1 pack of the link's visits
const (
	packVersion  = 1
	packsVersion = 2
)

// A row of packs closes at maxPacksPerRow packs or once it holds
// maxRowBytes: a reader of one link's visits reads the whole row.
const (
	maxPacksPerRow = 64
	maxRowBytes    = 8 << 10
)

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

// appendPacksHeader appends the start of a version 2 row of n packs to dst;
// appendPackEntry then appends each of them.
func appendPacksHeader(dst []byte, n int) []byte {
	dst = append(dst, packsVersion)
	return binary.AppendUvarint(dst, uint64(n))
}

// appendPackEntry appends to dst the pack of link, a version 1 encoding,
// with the rowid of the link's row before (0: none); after is the link of
// the entry before it in the row, 0 for the first.
func appendPackEntry(dst []byte, after, link, prev int64, pack []byte) []byte {
	dst = binary.AppendVarint(dst, link-after)
	dst = binary.AppendUvarint(dst, uint64(prev))
	dst = binary.AppendUvarint(dst, uint64(len(pack)))
	return append(dst, pack...)
}

// findPack returns link's pack (a version 1 encoding) in b, a version 2
// row, and the rowid of the row with its pack before (0: none); ok is
// false when the row holds no pack of link.
func findPack(b []byte, link int64) (pack []byte, prev int64, ok bool, err error) {
	if len(b) == 0 || b[0] != packsVersion {
		return nil, 0, false, fmt.Errorf("%w: version", errBadPack)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, 0, false, fmt.Errorf("%w: count", errBadPack)
	}
	b = b[k:]
	var at int64
	for i := range n {
		d, k1 := binary.Varint(b)
		if k1 <= 0 || i > 0 && d <= 0 {
			return nil, 0, false, fmt.Errorf("%w: link", errBadPack)
		}
		at += d
		p, k2 := binary.Uvarint(b[k1:])
		if k2 <= 0 || p > math.MaxInt64 {
			return nil, 0, false, fmt.Errorf("%w: previous row", errBadPack)
		}
		l, k3 := binary.Uvarint(b[k1+k2:])
		h := k1 + k2 + k3
		if k3 <= 0 || l > uint64(len(b)-h) {
			return nil, 0, false, fmt.Errorf("%w: pack length", errBadPack)
		}
		if at == link {
			return b[h : h+int(l)], int64(p), true, nil
		}
		if at > link {
			break
		}
		b = b[h+int(l):]
	}
	return nil, 0, false, nil
}
