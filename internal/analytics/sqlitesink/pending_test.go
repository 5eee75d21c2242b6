package sqlitesink

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/shortlinks/shortlinks/internal/analytics"
)

// randomRollups returns n hourly and about 2n daily rows on a few links,
// sorted and unique as a Delta's are.
func randomRollups(rng *rand.Rand, n int) rollups {
	hs := map[[2]int64]analytics.HourlyCount{}
	ds := map[analytics.DailyCount]analytics.DailyCount{}
	for range n {
		link, hour := rng.Int64N(20)+1, 1_700_000_000+3600*rng.Int64N(30)
		hs[[2]int64{link, hour}] = analytics.HourlyCount{LinkID: link, Hour: hour, Humans: rng.Int64N(1000), Bots: rng.Int64N(1 << 40)}
		for range 2 {
			k := analytics.DailyCount{LinkID: link, Day: hour - hour%86400, Dim: analytics.Dimension(rng.IntN(5) + 1),
				Value: []string{"", "a", "news.example.com", "é(other)"}[rng.IntN(4)]}
			v := k
			v.Humans, v.Bots = rng.Int64N(50), rng.Int64N(50)
			ds[k] = v
		}
	}
	var r rollups
	for _, h := range hs {
		r.hourly = append(r.hourly, h)
	}
	for _, d := range ds {
		r.daily = append(r.daily, d)
	}
	slices.SortFunc(r.hourly, func(x, y analytics.HourlyCount) int { return hourlyKey(&x, &y) })
	slices.SortFunc(r.daily, func(x, y analytics.DailyCount) int { return dailyKey(&x, &y) })
	return r
}

func TestRollupsEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 5, 200} {
		r := randomRollups(rng, n)
		b := appendRollups(nil, &r)
		got, err := decodeRollups(b)
		if err != nil {
			t.Fatalf("%d rows: %v", n, err)
		}
		if len(got.hourly) != len(r.hourly) || len(got.daily) != len(r.daily) ||
			(len(r.hourly) > 0 && !reflect.DeepEqual(got, r)) {
			t.Fatalf("%d rows: decoded %+v, want %+v", n, got, r)
		}
		// Every shorter encoding is refused, and so is any longer one.
		for i := range len(b) {
			if _, err := decodeRollups(b[:i]); err == nil {
				t.Fatalf("%d rows: the first %d of %d bytes decoded", n, i, len(b))
			}
		}
		if _, err := decodeRollups(append(b, 0)); err == nil {
			t.Fatalf("%d rows: a trailing byte decoded", n)
		}
	}
}

func FuzzDecodeRollups(f *testing.F) {
	r := randomRollups(rand.New(rand.NewPCG(3, 4)), 10)
	f.Add(appendRollups(nil, &r))
	f.Add([]byte{rollupsFormat, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRollups(b)
		if err != nil {
			return
		}
		// What decodes encodes to what decodes the same.
		again, err := decodeRollups(appendRollups(nil, &r))
		if err != nil || !slices.Equal(again.hourly, r.hourly) || !slices.Equal(again.daily, r.daily) {
			t.Fatalf("decoded %+v; encoded and decoded again: %+v, %v", r, again, err)
		}
	})
}

func TestMergeAndSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	a, b := randomRollups(rng, 40), randomRollups(rng, 40)
	var m rollups
	mergeInto(&m, &a, &b)
	sum := func(r rollups) (h, d map[any]int64) {
		h, d = map[any]int64{}, map[any]int64{}
		for _, c := range r.hourly {
			h[[2]int64{c.LinkID, c.Hour}] += c.Humans + c.Bots
		}
		for _, c := range r.daily {
			d[analytics.DailyCount{LinkID: c.LinkID, Day: c.Day, Dim: c.Dim, Value: c.Value}] += c.Humans + c.Bots
		}
		return h, d
	}
	ha, da := sum(a)
	hb, db := sum(b)
	for k, v := range hb {
		ha[k] += v
	}
	for k, v := range db {
		da[k] += v
	}
	hm, dm := sum(m)
	if !reflect.DeepEqual(hm, ha) || !reflect.DeepEqual(dm, da) || len(m.hourly) != len(hm) || len(m.daily) != len(dm) {
		t.Fatal("the merge is not the sum of its inputs, one row per key")
	}
	if !slices.IsSortedFunc(m.daily, func(x, y analytics.DailyCount) int { return dailyKey(&x, &y) }) {
		t.Fatal("merged daily rows out of order")
	}
	// In place, with room and without, gives the same.
	for _, room := range []int{0, len(b.hourly) + len(b.daily)} {
		h := append(make([]analytics.HourlyCount, 0, len(a.hourly)+room), a.hourly...)
		d := append(make([]analytics.DailyCount, 0, len(a.daily)+room), a.daily...)
		h = mergeInPlace(h, b.hourly, hourlyKey, addHourly)
		d = mergeInPlace(d, b.daily, dailyKey, addDaily)
		if !reflect.DeepEqual(h, m.hourly) || !reflect.DeepEqual(d, m.daily) {
			t.Fatalf("merged in place with room for %d more rows: not the merge", room)
		}
	}
	if got := mergeInPlace(nil, b.hourly, hourlyKey, addHourly); !reflect.DeepEqual(got, b.hourly) {
		t.Fatal("merged in place into nothing: not the rows added")
	}
	// Split into chunks of whole links: they add up to the whole, no link
	// in two chunks, none over the limit unless one link is.
	rest, seen := m, map[int64]bool{}
	var again rollups
	for rest.len() > 0 {
		var chunk rollups
		chunk, rest = rest.split(7)
		links := map[int64]int{}
		for _, c := range chunk.hourly {
			links[c.LinkID]++
		}
		for _, c := range chunk.daily {
			links[c.LinkID]++
		}
		if chunk.len() > 7 && len(links) > 1 {
			t.Fatalf("a chunk of %d rows holds %d links", chunk.len(), len(links))
		}
		for l := range links {
			if seen[l] {
				t.Fatalf("link %d in two chunks", l)
			}
			seen[l] = true
			if rest.len() > 0 && rest.firstLink() <= l {
				t.Fatalf("rest starts at link %d, not after %d", rest.firstLink(), l)
			}
		}
		var next rollups
		mergeInto(&next, &again, &chunk)
		again = next
	}
	if !reflect.DeepEqual(again, m) {
		t.Fatal("the chunks do not add up to the whole")
	}
	h, d := m.ofLink(7)
	for _, c := range h {
		if c.LinkID != 7 {
			t.Fatalf("ofLink(7) holds link %d", c.LinkID)
		}
	}
	if len(h) != len(slices.DeleteFunc(slices.Clone(m.hourly), func(c analytics.HourlyCount) bool { return c.LinkID != 7 })) ||
		len(d) != len(slices.DeleteFunc(slices.Clone(m.daily), func(c analytics.DailyCount) bool { return c.LinkID != 7 })) {
		t.Fatal("ofLink(7) misses rows of link 7")
	}
}
