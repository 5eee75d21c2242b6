package sqlitesink

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/yield"
)

// Pending rollups.
//
// The hourly and daily counts were most of the writer's rows: one of each
// per link clicked and write, at a few microseconds a row on the server's
// one core. A write now logs its increments to those two tables as one
// row of analytics_pending (an encoded rollups) and adds them to the
// sink's memory; every foldApplies writes (or once foldRows counts wait)
// the increments gathered so far are frozen and folded into the tables a
// chunk of links per write, and their log rows deleted with the last
// chunk. A link clicked many times between folds costs one row per table
// instead of one per write. Reads add the increments in memory to what
// the tables hold, so stats are as fresh as before; a new sink on the
// database (a restart, after a crash too) reads the log back.
//
// analytics_fold records a fold under way: the log rows up to upto are
// being folded, and their counts of links below next are in the tables
// already, so that a restart does not count those twice.

// rollups is a set of increments to clicks_hourly and clicks_daily, each
// sorted as a Delta's are (by link, then time, then dimension and value)
// with no two rows of the same key.
type rollups struct {
	hourly []analytics.HourlyCount
	daily  []analytics.DailyCount
}

func (r *rollups) len() int { return len(r.hourly) + len(r.daily) }

func hourlyKey(x, y *analytics.HourlyCount) int {
	return cmp.Or(cmp.Compare(x.LinkID, y.LinkID), cmp.Compare(x.Hour, y.Hour))
}

func dailyKey(x, y *analytics.DailyCount) int {
	return cmp.Or(cmp.Compare(x.LinkID, y.LinkID), cmp.Compare(x.Day, y.Day),
		cmp.Compare(x.Dim, y.Dim), cmp.Compare(x.Value, y.Value))
}

// mergeInto sets dst to the sum of a and b, reusing dst's memory; dst must
// share none with a or b.
func mergeInto(dst *rollups, a, b *rollups) {
	dst.hourly = mergeSorted(dst.hourly[:0], a.hourly, b.hourly, hourlyKey, addHourly)
	dst.daily = mergeSorted(dst.daily[:0], a.daily, b.daily, dailyKey, addDaily)
}

func addDaily(x *analytics.DailyCount, y analytics.DailyCount) {
	x.Humans += y.Humans
	x.Bots += y.Bots
}

func addHourly(x *analytics.HourlyCount, y analytics.HourlyCount) {
	x.Humans += y.Humans
	x.Bots += y.Bots
}

// mergeSorted appends to dst the rows of a and b in order, adding a row of
// b to the row of a with the same key.
func mergeSorted[T any](dst, a, b []T, key func(x, y *T) int, add func(*T, T)) []T {
	dst = slices.Grow(dst, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		yield.Every(len(dst))
		switch c := key(&a[i], &b[j]); {
		case c < 0:
			dst = append(dst, a[i])
			i++
		case c > 0:
			dst = append(dst, b[j])
			j++
		default:
			x := a[i]
			add(&x, b[j])
			dst = append(dst, x)
			i++
			j++
		}
	}
	dst = append(dst, a[i:]...)
	return append(dst, b[j:]...)
}

// mergeInPlace adds the rows of b to a, both sorted by key, in a's memory
// when it has room: the rows of b with no equal key in a are counted
// first, then both are merged from the back.
func mergeInPlace[T any](a, b []T, key func(x, y *T) int, add func(*T, T)) []T {
	fresh := 0
	for i, j, n := 0, 0, 0; j < len(b); n++ {
		yield.Every(n)
		if i == len(a) {
			fresh += len(b) - j
			break
		}
		switch c := key(&a[i], &b[j]); {
		case c < 0:
			i++
		case c > 0:
			fresh++
			j++
		default:
			i++
			j++
		}
	}
	n := len(a)
	a = slices.Grow(a, fresh)[:n+fresh]
	i, k := n-1, n+fresh-1
	for j := len(b) - 1; j >= 0; k-- {
		yield.Every(k)
		c := -1
		if i >= 0 {
			c = key(&a[i], &b[j])
		}
		switch {
		case c > 0:
			a[k] = a[i]
			i--
		case c == 0:
			x := a[i]
			add(&x, b[j])
			a[k] = x
			i--
			j--
		default:
			a[k] = b[j]
			j--
		}
	}
	return a
}

// ofLink returns the rows of link.
func (r *rollups) ofLink(link int64) ([]analytics.HourlyCount, []analytics.DailyCount) {
	h0, _ := slices.BinarySearchFunc(r.hourly, link, func(c analytics.HourlyCount, l int64) int { return cmp.Compare(c.LinkID, l) })
	h1, _ := slices.BinarySearchFunc(r.hourly, link+1, func(c analytics.HourlyCount, l int64) int { return cmp.Compare(c.LinkID, l) })
	d0, _ := slices.BinarySearchFunc(r.daily, link, func(c analytics.DailyCount, l int64) int { return cmp.Compare(c.LinkID, l) })
	d1, _ := slices.BinarySearchFunc(r.daily, link+1, func(c analytics.DailyCount, l int64) int { return cmp.Compare(c.LinkID, l) })
	return r.hourly[h0:h1], r.daily[d0:d1]
}

// split returns the rows of the first links of r, as many whole links as
// fit in limit rows but at least one, and the rest.
func (r *rollups) split(limit int) (chunk, rest rollups) {
	if r.len() <= limit {
		return *r, rollups{}
	}
	i, j := 0, 0
	for i < len(r.hourly) || j < len(r.daily) {
		link := int64(-1)
		if i < len(r.hourly) {
			link = r.hourly[i].LinkID
		}
		if j < len(r.daily) && (link < 0 || r.daily[j].LinkID < link) {
			link = r.daily[j].LinkID
		}
		i2, j2 := i, j
		for i2 < len(r.hourly) && r.hourly[i2].LinkID == link {
			i2++
		}
		for j2 < len(r.daily) && r.daily[j2].LinkID == link {
			j2++
		}
		if i2+j2 > limit && i+j > 0 {
			break
		}
		i, j = i2, j2
	}
	return rollups{r.hourly[:i], r.daily[:j]}, rollups{r.hourly[i:], r.daily[j:]}
}

// firstLink returns the smallest link of r; r is not empty.
func (r *rollups) firstLink() int64 {
	switch {
	case len(r.hourly) == 0:
		return r.daily[0].LinkID
	case len(r.daily) == 0:
		return r.hourly[0].LinkID
	}
	return min(r.hourly[0].LinkID, r.daily[0].LinkID)
}

// from returns the rows of r of links from link on.
func (r *rollups) from(link int64) rollups {
	h, _ := slices.BinarySearchFunc(r.hourly, link, func(c analytics.HourlyCount, l int64) int { return cmp.Compare(c.LinkID, l) })
	d, _ := slices.BinarySearchFunc(r.daily, link, func(c analytics.DailyCount, l int64) int { return cmp.Compare(c.LinkID, l) })
	return rollups{r.hourly[h:], r.daily[d:]}
}

// rollupsFormat is the first byte of an encoded rollups.
const rollupsFormat = 1

// appendRollups appends the encoding of r to dst: the format byte, then
// the hourly rows' count and rows, then the daily ones'; links and times
// as varint differences from the row before, counts as uvarints, a value
// as its length and bytes.
func appendRollups(dst []byte, r *rollups) []byte {
	dst = append(dst, rollupsFormat)
	dst = binary.AppendUvarint(dst, uint64(len(r.hourly)))
	var link, at int64
	for i, c := range r.hourly {
		yield.Every(i)
		dst = binary.AppendVarint(dst, c.LinkID-link)
		dst = binary.AppendVarint(dst, c.Hour-at)
		dst = binary.AppendUvarint(dst, uint64(c.Humans))
		dst = binary.AppendUvarint(dst, uint64(c.Bots))
		link, at = c.LinkID, c.Hour
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.daily)))
	link, at = 0, 0
	for i, c := range r.daily {
		yield.Every(i)
		dst = binary.AppendVarint(dst, c.LinkID-link)
		dst = binary.AppendVarint(dst, c.Day-at)
		dst = append(dst, byte(c.Dim))
		dst = binary.AppendUvarint(dst, uint64(len(c.Value)))
		dst = append(dst, c.Value...)
		dst = binary.AppendUvarint(dst, uint64(c.Humans))
		dst = binary.AppendUvarint(dst, uint64(c.Bots))
		link, at = c.LinkID, c.Day
	}
	return dst
}

var errRollupsCorrupt = errors.New("pending rollups: corrupt encoding")

// decodeRollups decodes b, an encoding by appendRollups.
func decodeRollups(b []byte) (rollups, error) {
	var r rollups
	if len(b) == 0 || b[0] != rollupsFormat {
		return r, errRollupsCorrupt
	}
	d := decoder{b: b[1:]}
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return r, errRollupsCorrupt
	}
	r.hourly = make([]analytics.HourlyCount, 0, n)
	var link, at int64
	for range n {
		link += d.varint()
		at += d.varint()
		r.hourly = append(r.hourly, analytics.HourlyCount{LinkID: link, Hour: at, Humans: d.count(), Bots: d.count()})
	}
	n = d.uvarint()
	if n > uint64(len(d.b)) {
		return r, errRollupsCorrupt
	}
	r.daily = make([]analytics.DailyCount, 0, n)
	link, at = 0, 0
	for range n {
		link += d.varint()
		at += d.varint()
		dim := analytics.Dimension(d.byte())
		value := d.bytes(d.uvarint())
		r.daily = append(r.daily, analytics.DailyCount{LinkID: link, Day: at, Dim: dim, Value: value, Humans: d.count(), Bots: d.count()})
	}
	if d.err || len(d.b) != 0 {
		return rollups{}, errRollupsCorrupt
	}
	if !slices.IsSortedFunc(r.hourly, func(x, y analytics.HourlyCount) int { return hourlyKey(&x, &y) }) ||
		!slices.IsSortedFunc(r.daily, func(x, y analytics.DailyCount) int { return dailyKey(&x, &y) }) {
		return rollups{}, fmt.Errorf("%w: rows out of order", errRollupsCorrupt)
	}
	return r, nil
}

// decoder reads an encoding, remembering the first error instead of
// returning it from every call.
type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) count() int64 {
	v := d.uvarint()
	if v > 1<<62 {
		d.err = true
	}
	return int64(v)
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.err = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes(n uint64) string {
	if n > uint64(len(d.b)) {
		d.err, d.b = true, nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
