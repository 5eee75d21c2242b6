package analytics

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The batch encoding, version 1, that instances put on a stream and
// workers read back. All integers are varints unless said otherwise:
//
//	magic    "SL"
//	version  1 byte: 1
//	producer 8 bytes, little-endian
//	seq      uvarint
//	strings  uvarint count, then each as uvarint length and bytes
//	         (the table's implicit first entry, "", is not written)
//	events   uvarint count, then each as:
//	  head     1 byte: kind (bits 0-2), flags (bits 3-5), address
//	           family (bits 6-7: 0 none, 1 IPv4, 2 IPv6)
//	  at       zigzag varint, microseconds since the previous event's
//	           (the first: since the Unix epoch)
//	  link     zigzag varint
//	  domain   uvarint
//	  ua, referer, language   uvarint indexes into the string table
//	  address  0, 4 or 16 bytes
//
// A batch of a few thousand clicks that repeat a few dozen User-Agents
// takes 15–25 bytes a click. Times are kept to the microsecond.
const codecVersion = 1

// Bounds a decoder enforces on untrusted input.
const (
	maxEncodedStrings = 1 << 16
	// Longer than any string a Recorder puts in a batch (MaxUserAgent),
	// so that batches from instances that kept more (256 bytes before)
	// still decode during a rolling upgrade.
	maxEncodedString = 256
	maxEncodedEvents = 1 << 20
)

// ErrBadBatch is wrapped by every error Decode returns for input that is not
// a valid batch.
var ErrBadBatch = errors.New("analytics: bad batch encoding")

// Encode appends b's encoding to dst and returns the result.
func Encode(dst []byte, b *Batch) []byte {
	dst = append(dst, 'S', 'L', codecVersion)
	dst = binary.LittleEndian.AppendUint64(dst, b.ID.Producer)
	dst = binary.AppendUvarint(dst, b.ID.Seq)
	n := max(len(b.Strings)-1, 0)
	dst = binary.AppendUvarint(dst, uint64(n))
	for _, s := range b.Strings[min(1, len(b.Strings)):] {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.Events)))
	var prev int64
	for i := range b.Events {
		e := &b.Events[i]
		head := byte(e.Kind&7) | byte(e.Flags&7)<<3
		a := e.Address()
		switch {
		case a.Is4():
			head |= 1 << 6
		case a.Is6():
			head |= 2 << 6
		}
		dst = append(dst, head)
		us := e.At / 1000
		dst = binary.AppendVarint(dst, us-prev)
		prev = us
		dst = binary.AppendVarint(dst, e.LinkID)
		dst = binary.AppendUvarint(dst, uint64(e.Domain))
		dst = binary.AppendUvarint(dst, uint64(e.UA))
		dst = binary.AppendUvarint(dst, uint64(e.Referer))
		dst = binary.AppendUvarint(dst, uint64(e.Language))
		switch {
		case a.Is4():
			v := a.As4()
			dst = append(dst, v[:]...)
		case a.Is6():
			dst = append(dst, e.Addr[:]...)
		}
	}
	return dst
}

// decoder reads an encoding, remembering the first error.
type decoder struct {
	p   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrBadBatch}, args...)...)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.fail("%s: bad varint", what)
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.fail("%s: bad varint", what)
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *decoder) bytes(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.p) < n {
		d.fail("%s: %d bytes left, want %d", what, len(d.p), n)
		return nil
	}
	b := d.p[:n]
	d.p = d.p[n:]
	return b
}

// Decode parses a batch that Encode wrote. Input that is not one, including
// trailing bytes, gives an error wrapping ErrBadBatch.
func Decode(p []byte) (*Batch, error) {
	d := &decoder{p: p}
	if m := d.bytes(3, "header"); d.err != nil || m[0] != 'S' || m[1] != 'L' {
		return nil, fmt.Errorf("%w: no header", ErrBadBatch)
	} else if m[2] != codecVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadBatch, m[2], codecVersion)
	}
	b := &Batch{}
	if pr := d.bytes(8, "producer"); pr != nil {
		b.ID.Producer = binary.LittleEndian.Uint64(pr)
	}
	b.ID.Seq = d.uvarint("seq")
	ns := d.uvarint("string count")
	if ns >= maxEncodedStrings || ns > uint64(len(d.p)) {
		d.fail("%d strings", ns)
		return nil, d.err
	}
	b.Strings = make([]string, 1, ns+1)
	for range ns {
		l := d.uvarint("string length")
		if l == 0 || l > maxEncodedString {
			d.fail("string of %d bytes", l)
		}
		s := d.bytes(int(l), "string")
		if d.err != nil {
			return nil, d.err
		}
		b.Strings = append(b.Strings, string(s))
	}
	ne := d.uvarint("event count")
	// Each event takes at least 7 bytes, so a count the input cannot hold is
	// refused before anything is allocated for it.
	if ne > maxEncodedEvents || ne > uint64(len(d.p))/7 {
		d.fail("%d events in %d bytes", ne, len(d.p))
		return nil, d.err
	}
	b.Events = make([]Event, ne)
	var prev int64
	nstr := uint64(len(b.Strings))
	for i := range b.Events {
		e := &b.Events[i]
		h := d.bytes(1, "event head")
		if d.err != nil {
			return nil, d.err
		}
		e.Kind = Kind(h[0] & 7)
		e.Flags = Flags(h[0] >> 3 & 7)
		family := h[0] >> 6
		if e.Kind >= numKinds {
			d.fail("event %d: kind %d", i, e.Kind)
		}
		delta := d.varint("time")
		us := prev + delta
		if (delta > 0 && us < prev) || (delta < 0 && us > prev) || us > math.MaxInt64/1000 || us < math.MinInt64/1000 {
			d.fail("event %d: time out of range", i)
		}
		prev = us
		e.At = us * 1000
		e.LinkID = d.varint("link")
		dom := d.uvarint("domain")
		if dom > math.MaxUint32 {
			d.fail("event %d: domain %d", i, dom)
		}
		e.Domain = uint32(dom)
		ua, ref, lang := d.uvarint("ua"), d.uvarint("referer"), d.uvarint("language")
		if ua >= nstr || ref >= nstr || lang >= nstr {
			d.fail("event %d: string index out of range", i)
		}
		e.UA, e.Referer, e.Language = uint32(ua), uint32(ref), uint32(lang)
		switch family {
		case 0:
		case 1:
			if a := d.bytes(4, "address"); a != nil {
				e.Addr = [16]byte{10: 0xff, 11: 0xff, 12: a[0], 13: a[1], 14: a[2], 15: a[3]}
			}
		case 2:
			if a := d.bytes(16, "address"); a != nil {
				copy(e.Addr[:], a)
				if e.Address().Is4() || e.Addr == ([16]byte{}) {
					d.fail("event %d: IPv4 or zero address written as IPv6", i)
				}
			}
		default:
			d.fail("event %d: address family %d", i, family)
		}
		if d.err != nil {
			return nil, d.err
		}
	}
	if len(d.p) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadBatch, len(d.p))
	}
	return b, nil
}
