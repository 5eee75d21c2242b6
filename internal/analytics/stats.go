package analytics

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// Stats answers the queries of the stats API and pages from what a Sink
// stored. Days and hours are UTC.
type Stats interface {
	// Total returns the link's clicks of all time; a link never clicked
	// has a zero count and Last.
	Total(ctx context.Context, linkID int64) (TotalCount, error)
	// Totals returns the clicks of all time of each of the links that
	// has any, by link id: one query for a page of a link listing.
	Totals(ctx context.Context, linkIDs []int64) (map[int64]TotalCount, error)
	// Hourly returns the link's hours in [from, to) that have clicks, in
	// order.
	Hourly(ctx context.Context, linkID int64, from, to time.Time) ([]HourlyCount, error)
	// Breakdowns returns the link's clicks by value of each of dims over
	// the UTC days from from's to to's (both included), most human clicks
	// first, then by value; Day is zero. The clicks with no value for a
	// dimension are its row of value "" (see WithUnknown). A report's
	// dimensions are read together: the link's clicks over the days,
	// which every unknown row needs, are read once.
	Breakdowns(ctx context.Context, linkID int64, dims []Dimension, from, to time.Time) (map[Dimension][]DailyCount, error)
	// Orphans returns the orphan visits in the hours of [from, to), by
	// domain, kind and hour.
	Orphans(ctx context.Context, from, to time.Time) ([]OrphanCount, error)
	// Visits returns the link's latest visits, newest first, at most
	// limit, with their user agents.
	Visits(ctx context.Context, linkID int64, limit int) ([]StoredVisit, error)
}

// A StoredVisit is a visit as read back, with its user agent.
type StoredVisit struct {
	Visit
	UserAgent UserAgent // zero when the visit had none
}

// BreakdownHours returns the hours [start, end) that the UTC days from
// from's to to's (both included) span: the hours whose clicks a Breakdown
// over from and to adds up.
func BreakdownHours(from, to time.Time) (start, end time.Time) {
	const day = 24 * time.Hour
	return from.UTC().Truncate(day), to.UTC().Truncate(day).Add(day)
}

// SplitBreakdowns sorts the daily rows read for link (of any dimensions,
// in any order) into the breakdowns of dims, each completed by
// WithUnknown from the link's clicks over the same days.
func SplitBreakdowns(rows []DailyCount, linkID int64, dims []Dimension, humans, bots int64) map[Dimension][]DailyCount {
	out := make(map[Dimension][]DailyCount, len(dims))
	for _, d := range dims {
		out[d] = nil
	}
	for _, r := range rows {
		if cs, ok := out[r.Dim]; ok {
			out[r.Dim] = append(cs, r)
		}
	}
	for d, cs := range out {
		out[d] = WithUnknown(cs, linkID, d, humans, bots)
	}
	return out
}

// WithUnknown completes a breakdown read from the daily rollup, whose
// rows are sorted or not. Clicks with no value for a dimension (no
// referrer, no country found, a User-Agent that names no browser or OS),
// and the clicks of visitors whose DNT was honoured, are stored in no row
// of it: that was most of the writer's rows for little information. They
// are the link's clicks over the same days (humans and bots, from the
// hourly rollup, over BreakdownHours) less those the rows hold, and are
// added to the row of value "", made if need be. Rows written before
// carry their own "" counts, which the subtraction takes into account.
// The result is sorted as Stats.Breakdown returns it: most human clicks
// first, then by value.
func WithUnknown(counts []DailyCount, linkID int64, dim Dimension, humans, bots int64) []DailyCount {
	blank := -1
	for i, c := range counts {
		humans -= c.Humans
		bots -= c.Bots
		if c.Value == "" {
			blank = i
		}
	}
	humans, bots = max(humans, 0), max(bots, 0)
	if humans > 0 || bots > 0 {
		if blank < 0 {
			counts = append(counts, DailyCount{LinkID: linkID, Dim: dim})
			blank = len(counts) - 1
		}
		counts[blank].Humans += humans
		counts[blank].Bots += bots
	}
	slices.SortStableFunc(counts, func(x, y DailyCount) int {
		if x.Humans != y.Humans {
			return cmp.Compare(y.Humans, x.Humans)
		}
		return strings.Compare(x.Value, y.Value)
	})
	return counts
}
