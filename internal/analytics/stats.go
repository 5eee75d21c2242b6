package analytics

import (
	"context"
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
	// Breakdown returns the link's clicks by value of dim over the UTC days
	// from from's to to's (both included), most human clicks first, then
	// by value; Day is zero.
	Breakdown(ctx context.Context, linkID int64, dim Dimension, from, to time.Time) ([]DailyCount, error)
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
