package analytics

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/maypok86/otter/v2"

	"github.com/shortlinks/shortlinks/internal/yield"
)

// Dimension is a breakdown of a link's daily clicks.
type Dimension uint8

// The dimensions. The values are stored: append, never renumber.
const (
	DimReferrer Dimension = iota + 1 // referrer host; "" for none
	DimCountry                       // ISO 3166-1 alpha-2; "" when unknown
	DimBrowser
	DimOS
	DimDevice
	numDims = iota
)

var dimNames = [...]string{"", "referrer", "country", "browser", "os", "device"}

func (d Dimension) String() string {
	if int(d) < len(dimNames) && d > 0 {
		return dimNames[d]
	}
	return "invalid"
}

// OtherValue stands for the values of a dimension beyond MaxDimValues in
// one batch for one link and day, so that a flood of made-up referrers
// cannot grow the rollups without bound.
const OtherValue = "(other)"

// MaxDimValues bounds the distinct values of one dimension that one batch
// adds for one link and day.
const MaxDimValues = 100

// HourlyCount is the clicks on a link in one hour, people and bots apart.
type HourlyCount struct {
	LinkID int64
	Hour   int64 // unix seconds at the start of the UTC hour
	Humans int64
	Bots   int64
}

// DailyCount is the clicks on a link in one UTC day with one value of one
// dimension. An Aggregator makes none with an empty Value; Stats.Breakdown
// returns the clicks with no value as the row of value "" (WithUnknown).
type DailyCount struct {
	LinkID int64
	Day    int64 // unix seconds at UTC midnight
	Dim    Dimension
	Value  string
	Humans int64
	Bots   int64
}

// TotalCount is a link's clicks of all time.
type TotalCount struct {
	LinkID int64
	Humans int64
	Bots   int64
	Last   int64 // unix nanoseconds of the latest click counted
}

// OrphanCount is the orphan visits of one kind to one domain in one hour.
type OrphanCount struct {
	Domain uint32
	Kind   Kind
	Hour   int64
	Visits int64
}

// A Visit is one click kept for the raw-visits table. It holds no raw
// address and no full User-Agent: the address is anonymized and the
// User-Agent is referred to by its hash in the user-agent table.
type Visit struct {
	At       int64 // unix nanoseconds, to the microsecond
	LinkID   int64
	Referrer string
	Country  string
	Language string     // first Accept-Language tag, lower-cased
	Addr     netip.Addr // anonymized (Anonymize); invalid when unknown
	UA       int64      // UserAgent.Hash; 0 for none
	Bot      bool
}

// A UserAgent is an entry of the user-agent table: a User-Agent (cut to
// MaxUserAgent bytes), what it parsed to, and the hash visits refer to it
// by (64-bit FNV-1a of the value; collisions are astronomically unlikely
// at the millions of distinct values real traffic has).
type UserAgent struct {
	Hash  int64
	Value string
	Agent
}

// A Delta is what one Sink.Apply commits: increments to the rollups, rows to
// add, and the batches they came from.
type Delta struct {
	Batches []BatchID
	Hourly  []HourlyCount // sorted by LinkID, Hour
	Daily   []DailyCount  // sorted by LinkID, Day, Dim, Value
	Totals  []TotalCount  // sorted by LinkID
	Orphans []OrphanCount // sorted by Domain, Kind, Hour
	Visits  []Visit       // sorted by LinkID, then in the order added
	// Agents are the user agents that Visits refer to and the sink may not
	// have yet; the sink adds those it lacks.
	Agents []UserAgent

	Clicks, BotClicks, OrphanVisits int64 // what the rollups add, for metrics
}

// uaEntry is a parsed User-Agent, cached.
type uaEntry struct {
	UserAgent
}

type hourKey struct {
	link int64
	hour int64
}

type dayKey struct {
	link int64
	day  int64
	dim  Dimension
}

type dimKey struct {
	dayKey
	value string
}

type orphanKey struct {
	domain uint32
	kind   Kind
	hour   int64
}

// AggregatorOptions configure an Aggregator.
type AggregatorOptions struct {
	// GeoIP finds countries; nil leaves them unknown.
	GeoIP *GeoIP
	// HonourDNT, when set, keeps nothing about a visitor who sent DNT: 1
	// or Sec-GPC: 1 but the count: the click is added to the link's hourly
	// and total counts (people or bots), and to no breakdown and no visit
	// row, and its address is not looked up.
	HonourDNT bool
	// Visits keeps a row per click for the raw-visits table.
	Visits bool
	// UACacheSize bounds the parsed User-Agents kept; default 10,000.
	UACacheSize int
}

// An Aggregator turns batches of events into a Delta: it enriches each
// event (User-Agent, country, referrer host, anonymized address) and adds
// it to the rollups. One goroutine uses it at a time; its maps are reused
// from one Delta to the next.
type Aggregator struct {
	opts   AggregatorOptions
	parser *UAParser
	uas    *otter.Cache[string, *uaEntry]

	hourly  map[hourKey]int
	daily   map[dimKey]int
	ndims   map[dayKey]int
	totals  map[int64]int
	orphans map[orphanKey]int
	agents  map[int64]struct{}
	d       Delta

	// the sort's buffer, kept from one Delta to the next
	sortTotals []TotalCount
	// hourlyLink[i] is the index in d.Totals, as added, of d.Hourly[i]'s
	// link, and likewise for Daily and Visits; linkAt and starts are
	// groupByLink's.
	hourlyLink, dailyLink, visitLink []int32
	linkAt, starts                   []int32
	// firsts[ti] is where the first hourly and daily counts of Totals[ti]
	// (as added) are; see linkFirsts.
	firsts []linkFirsts

	// per batch, indexed by string index
	uaOf   []*uaEntry
	refOf  [][2]string // [not truncated, truncated]; "\x00" unset
	langOf []string
}

// NewAggregator returns an Aggregator.
func NewAggregator(opts AggregatorOptions) *Aggregator {
	if opts.UACacheSize <= 0 {
		opts.UACacheSize = 10_000
	}
	a := &Aggregator{
		opts:    opts,
		parser:  NewUAParser(),
		uas:     otter.Must(&otter.Options[string, *uaEntry]{MaximumSize: opts.UACacheSize}),
		hourly:  make(map[hourKey]int),
		daily:   make(map[dimKey]int),
		ndims:   make(map[dayKey]int),
		totals:  make(map[int64]int),
		orphans: make(map[orphanKey]int),
		agents:  make(map[int64]struct{}),
	}
	return a
}

// Reset forgets what was added since the last Reset, keeping the caches.
// The Delta returned before is reused and must no longer be used.
func (a *Aggregator) Reset() {
	clear(a.hourly)
	clear(a.daily)
	clear(a.ndims)
	clear(a.totals)
	clear(a.orphans)
	clear(a.agents)
	// Keep the slices' storage: a worker's batches are alike in size, and
	// reusing it spares the collector most of what aggregation would
	// otherwise allocate.
	d := &a.d
	*d = Delta{
		Batches: d.Batches[:0], Hourly: d.Hourly[:0], Daily: d.Daily[:0], Totals: d.Totals[:0],
		Orphans: d.Orphans[:0], Visits: d.Visits[:0], Agents: d.Agents[:0],
	}
	a.hourlyLink, a.dailyLink, a.visitLink = a.hourlyLink[:0], a.dailyLink[:0], a.visitLink[:0]
	a.firsts = a.firsts[:0]
}

// linkFirsts holds the indexes in Delta.Hourly and Delta.Daily, plus one,
// of a link's first hourly count and of its first daily count of each
// dimension; 0 for none. Those counts are found here and are not in the maps: most links'
// clicks in one Delta fall in one hour and day with one value of each
// dimension, and under load most links are clicked once or twice a
// Delta, so this spares most clicks the maps, two lookups or insertions of
// keys that the caches had let go each. It holds no pointers (the values
// are compared with the counts'), so the collector does not scan it.
type linkFirsts struct {
	hourly int32
	daily  [numDims + 1]int32
}

const unset = "\x00"

// Add enriches and counts every event of b.
func (a *Aggregator) Add(b *Batch) {
	a.d.Batches = append(a.d.Batches, b.ID)
	n := len(b.Strings)
	a.uaOf = slices.Grow(a.uaOf[:0], n)[:n]
	clear(a.uaOf)
	a.refOf = slices.Grow(a.refOf[:0], n)[:n]
	a.langOf = slices.Grow(a.langOf[:0], n)[:n]
	for i := range n {
		a.refOf[i] = [2]string{unset, unset}
		a.langOf[i] = unset
	}
	for i := range b.Events {
		a.add(b, &b.Events[i])
		yield.Every(i)
	}
}

func (a *Aggregator) agent(b *Batch, i uint32) *uaEntry {
	if e := a.uaOf[i]; e != nil {
		return e
	}
	s := b.Strings[i]
	e, ok := a.uas.GetIfPresent(s)
	if !ok {
		e = &uaEntry{UserAgent{Hash: HashUserAgent(s), Value: s, Agent: a.parser.Parse(s)}}
		a.uas.Set(s, e)
	}
	a.uaOf[i] = e
	return e
}

func (a *Aggregator) referrer(b *Batch, e *Event) string {
	t := 0
	if e.Flags&FlagRefererTruncated != 0 {
		t = 1
	}
	r := &a.refOf[e.Referer][t]
	if *r == unset {
		*r = RefererHost(b.Strings[e.Referer], t == 1)
	}
	return *r
}

func (a *Aggregator) language(b *Batch, e *Event) string {
	l := &a.langOf[e.Language]
	if *l == unset {
		*l = Language(b.Strings[e.Language])
	}
	return *l
}

const (
	hourNanos = int64(3600e9)
	dayNanos  = 24 * hourNanos
)

// floorDiv rounds t down to a multiple of unit, also before 1970.
func floorDiv(t, unit int64) int64 {
	q := t / unit
	if t%unit < 0 {
		q--
	}
	return q * unit
}

func (a *Aggregator) add(b *Batch, e *Event) {
	hour := floorDiv(e.At, hourNanos) / 1e9
	if e.Kind.Orphan() {
		k := orphanKey{e.Domain, e.Kind, hour}
		i, ok := a.orphans[k]
		if !ok {
			i = len(a.d.Orphans)
			a.orphans[k] = i
			a.d.Orphans = append(a.d.Orphans, OrphanCount{Domain: e.Domain, Kind: e.Kind, Hour: hour})
		}
		a.d.Orphans[i].Visits++
		a.d.OrphanVisits++
		return
	}
	ua := a.agent(b, e.UA)
	lang := a.language(b, e)
	// Every browser sends Accept-Language; a "browser" that does not is a
	// script or a headless browser wearing a browser's User-Agent.
	bot := ua.Bot || lang == ""
	var h, bt int64 = 1, 0
	if bot {
		h, bt = 0, 1
		a.d.BotClicks++
	} else {
		a.d.Clicks++
	}

	ti, ok := a.totals[e.LinkID]
	if !ok {
		ti = len(a.d.Totals)
		a.totals[e.LinkID] = ti
		a.d.Totals = append(a.d.Totals, TotalCount{LinkID: e.LinkID})
		a.firsts = append(a.firsts, linkFirsts{})
	}

	// The link's first hourly count is in a.firsts, the others in the map.
	f := &a.firsts[ti]
	i := int(f.hourly) - 1
	switch {
	case i < 0:
		i = a.newHourly(e.LinkID, ti, hour)
		f.hourly = int32(i) + 1
	case a.d.Hourly[i].Hour != hour:
		hk := hourKey{e.LinkID, hour}
		var ok bool
		if i, ok = a.hourly[hk]; !ok {
			i = a.newHourly(e.LinkID, ti, hour)
			a.hourly[hk] = i
		}
	}
	a.d.Hourly[i].Humans += h
	a.d.Hourly[i].Bots += bt

	t := &a.d.Totals[ti]
	t.Humans += h
	t.Bots += bt
	t.Last = max(t.Last, e.At)

	if a.opts.HonourDNT && e.Flags&FlagNoTrack != 0 {
		return
	}
	ref := a.referrer(b, e)
	var country string
	addr := e.Address()
	if a.opts.GeoIP != nil {
		country = a.opts.GeoIP.Country(addr)
	}
	day := floorDiv(e.At, dayNanos) / 1e9
	a.dim(e.LinkID, ti, day, DimReferrer, ref, h, bt)
	a.dim(e.LinkID, ti, day, DimCountry, country, h, bt)
	a.dim(e.LinkID, ti, day, DimBrowser, ua.Browser, h, bt)
	a.dim(e.LinkID, ti, day, DimOS, ua.OS, h, bt)
	dev := ua.Device
	if bot {
		dev = DeviceBot
	}
	a.dim(e.LinkID, ti, day, DimDevice, dev, h, bt)

	if !a.opts.Visits {
		return
	}
	v := Visit{
		At:       e.At,
		LinkID:   e.LinkID,
		Referrer: ref,
		Country:  country,
		Language: lang,
		Addr:     Anonymize(addr),
		Bot:      bot,
	}
	if e.UA != 0 {
		v.UA = ua.Hash
		if _, ok := a.agents[ua.Hash]; !ok {
			a.agents[ua.Hash] = struct{}{}
			a.d.Agents = append(a.d.Agents, ua.UserAgent)
		}
	}
	a.d.Visits = append(a.d.Visits, v)
	a.visitLink = append(a.visitLink, int32(ti))
}

// dim counts a click on link, Totals[ti] as added, in its day's value of dim.
func (a *Aggregator) dim(link int64, ti int, day int64, dim Dimension, value string, h, bt int64) {
	// A click with no value for the dimension makes no row: the readers
	// count it from the hourly rollup (WithUnknown). On the bench's
	// traffic, which has no User-Agent and no referrer, that is four rows
	// in five.
	if value == "" {
		return
	}
	// The link's first daily count of dim is in a.firsts, the others in
	// the map, and ndims counts those in the map.
	f := &a.firsts[ti]
	first := int(f.daily[dim]) - 1
	if first < 0 {
		first = a.newDaily(link, ti, day, dim, value)
		f.daily[dim] = int32(first) + 1
		a.d.Daily[first].Humans += h
		a.d.Daily[first].Bots += bt
		return
	}
	fc := &a.d.Daily[first]
	if fc.Day == day && fc.Value == value {
		fc.Humans += h
		fc.Bots += bt
		return
	}
	k := dimKey{dayKey{link, day, dim}, value}
	i, ok := a.daily[k]
	if !ok {
		n := a.ndims[k.dayKey]
		if fc.Day == day {
			n++
		}
		if n >= MaxDimValues {
			k.value = OtherValue
			if fc.Day == day && fc.Value == OtherValue {
				i, ok = first, true
			} else {
				i, ok = a.daily[k]
			}
		}
		if !ok {
			a.ndims[k.dayKey]++
			i = a.newDaily(link, ti, day, dim, k.value)
			a.daily[k] = i
		}
	}
	a.d.Daily[i].Humans += h
	a.d.Daily[i].Bots += bt
}

func (a *Aggregator) newHourly(link int64, ti int, hour int64) int {
	a.d.Hourly = append(a.d.Hourly, HourlyCount{LinkID: link, Hour: hour})
	a.hourlyLink = append(a.hourlyLink, int32(ti))
	return len(a.d.Hourly) - 1
}

func (a *Aggregator) newDaily(link int64, ti int, day int64, dim Dimension, value string) int {
	a.d.Daily = append(a.d.Daily, DailyCount{LinkID: link, Day: day, Dim: dim, Value: value})
	a.dailyLink = append(a.dailyLink, int32(ti))
	return len(a.d.Daily) - 1
}

// Delta returns what was added since the last Reset, with its rollups
// sorted by key, so that two workers writing at once lock rows in the same
// order and cannot deadlock. It stays valid until the next Reset, which
// must come before the next Add.
func (a *Aggregator) Delta() *Delta {
	d := &a.d
	// The sorts yield to the redirects sharing the core (see package yield).
	yield.SortFunc(d.Totals, &a.sortTotals, func(x, y TotalCount) int { return cmp.Compare(x.LinkID, y.LinkID) })
	// The hourly and daily counts and the visits are put in the order of
	// their links by counting (groupByLink), then each link's few counts
	// sorted among themselves: comparison sorts of the whole, reading keys
	// from memory the caches had let go, were most of Delta's time, and
	// sorting the visits (by SQLite's writer, which packs each link's
	// together) an eighth of that writer's CPU. The visits of a link stay
	// in the order added.
	// a.totals still maps each link to its index in Totals as added.
	a.linkAt = slices.Grow(a.linkAt[:0], len(d.Totals))[:len(d.Totals)]
	for j := range d.Totals {
		a.linkAt[a.totals[d.Totals[j].LinkID]] = int32(j)
	}
	groupByLink(d.Hourly, a.hourlyLink, a.linkAt, &a.starts)
	withinLinks(d.Hourly, func(x *HourlyCount) int64 { return x.LinkID }, func(x, y HourlyCount) int {
		return cmp.Compare(x.Hour, y.Hour)
	})
	groupByLink(d.Daily, a.dailyLink, a.linkAt, &a.starts)
	// cmp.Or would compare the values, strings, every time: compare them
	// only when the rest is equal.
	withinLinks(d.Daily, func(x *DailyCount) int64 { return x.LinkID }, func(x, y DailyCount) int {
		if x.Day != y.Day {
			return cmp.Compare(x.Day, y.Day)
		}
		if x.Dim != y.Dim {
			return cmp.Compare(x.Dim, y.Dim)
		}
		return strings.Compare(x.Value, y.Value)
	})
	groupByLink(d.Visits, a.visitLink, a.linkAt, &a.starts)
	// Used up: a second Delta before the next Reset finds them empty and
	// leaves the order as it is.
	a.hourlyLink, a.dailyLink, a.visitLink = a.hourlyLink[:0], a.dailyLink[:0], a.visitLink[:0]
	slices.SortFunc(d.Orphans, func(x, y OrphanCount) int {
		return cmp.Or(cmp.Compare(x.Domain, y.Domain), cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Hour, y.Hour))
	})
	slices.SortFunc(d.Agents, func(x, y UserAgent) int { return cmp.Compare(x.Hash, y.Hash) })
	// The maps' indexes are stale now: Add after Delta needs a Reset.
	return d
}

// groupByLink puts s in the order of its items' links, each link's items
// in the order they had: link[i] is the index, in Totals as added, of
// s[i]'s link, and at maps those indexes to the links' places in Totals
// sorted. It is a counting sort that moves the items where they stand, so
// that no second buffer of them (and of the strings they point to) is kept
// for the collector to scan. It overwrites link, and does nothing unless
// link is as long as s.
func groupByLink[E any](s []E, link, at []int32, starts *[]int32) {
	if len(s) == 0 || len(link) != len(s) {
		return
	}
	st := slices.Grow((*starts)[:0], len(at)+1)[:len(at)+1]
	*starts = st
	clear(st)
	for _, t := range link {
		st[at[t]+1]++
	}
	for j := 1; j < len(st); j++ {
		st[j] += st[j-1]
	}
	// link[i] becomes the place of s[i].
	for i, t := range link {
		to := &st[at[t]]
		link[i] = *to
		*to++
	}
	// Each swap puts one item in its place for good: at most one an item.
	swaps := 0
	for i := range link {
		for j := link[i]; j != int32(i); j = link[i] {
			s[i], s[j] = s[j], s[i]
			link[i], link[j] = link[j], j
			yield.Every(swaps)
			swaps++
		}
	}
}

// withinLinks sorts by cmp each run of s's items of one link.
func withinLinks[E any](s []E, link func(*E) int64, cmp func(a, b E) int) {
	for lo, runs := 0, 0; lo < len(s); runs++ {
		hi := lo + 1
		for hi < len(s) && link(&s[hi]) == link(&s[lo]) {
			hi++
		}
		if hi-lo > 1 {
			slices.SortFunc(s[lo:hi], cmp)
		}
		yield.Every(runs)
		lo = hi
	}
}

// HashUserAgent is the key of a User-Agent in the user-agent table: 64-bit
// FNV-1a of its bytes, as a signed integer for SQL's bigint.
func HashUserAgent(s string) int64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime
	}
	return int64(h)
}
