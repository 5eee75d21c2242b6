package analytics

import (
	"context"
	"fmt"
	"time"
)

// Interval is the width of a report's time series.
type Interval string

// The intervals a report's series can have.
const (
	Hour Interval = "hour"
	Day  Interval = "day"
)

// TopValues is how many values of a breakdown a report names; the rest
// are summed into one row whose value is OtherRow.
const TopValues = 10

// OtherRow is the value of a breakdown's row that sums the values beyond
// the top TopValues (and the values the aggregator already gathered as
// OtherValue).
const OtherRow = "other"

// A Report is a link's clicks over a period: what the stats API, the
// stats page and `shortlinks stats` show. Clicks are people's; bots are
// counted apart, in BotClicks, and left out of the series and breakdowns.
type Report struct {
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Interval  Interval  `json:"interval"`
	Clicks    int64     `json:"clicks"`
	BotClicks int64     `json:"bot_clicks"`
	Series    []Point   `json:"series"`
	Referrers []Row     `json:"referrers"`
	Countries []Row     `json:"countries"`
	Browsers  []Row     `json:"browsers"`
	OS        []Row     `json:"os"`
	Devices   []Row     `json:"devices"`
}

// A Point is the clicks of one interval of a series, starting at Start.
type Point struct {
	Start  time.Time `json:"start"`
	Clicks int64     `json:"clicks"`
}

// A Row is the clicks with one value of a breakdown. "" is none or
// unknown: no Referer, a country the database does not know.
type Row struct {
	Value  string `json:"value"`
	Clicks int64  `json:"clicks"`
}

// MaxReportPoints bounds a report's series, so that a request cannot make
// the server build one of millions of points (a century by the hour).
const MaxReportPoints = 24 * 400

// ReportSource is what a report is read from; every Stats is one.
type ReportSource interface {
	Hourly(ctx context.Context, linkID int64, from, to time.Time) ([]HourlyCount, error)
	Breakdowns(ctx context.Context, linkID int64, dims []Dimension, from, to time.Time) (map[Dimension][]DailyCount, error)
}

// NewReport reads link's report over [from, to) from st. from and to are
// truncated to the interval (to rounded up), in UTC. The series has a
// point for every interval, those without clicks included.
func NewReport(ctx context.Context, st ReportSource, linkID int64, from, to time.Time, iv Interval) (Report, error) {
	step := time.Hour
	if iv == Day {
		step = 24 * time.Hour
	} else if iv != Hour {
		return Report{}, fmt.Errorf("analytics: interval %q is neither hour nor day", iv)
	}
	from = from.UTC().Truncate(step)
	if t := to.UTC().Truncate(step); t.Before(to) {
		to = t.Add(step)
	} else {
		to = t
	}
	n := int(to.Sub(from) / step)
	if n <= 0 || n > MaxReportPoints {
		return Report{}, fmt.Errorf("analytics: a report of %d %ss is out of bounds", n, iv)
	}
	r := Report{From: from, To: to, Interval: iv, Series: make([]Point, n)}
	for i := range r.Series {
		r.Series[i].Start = from.Add(time.Duration(i) * step)
	}
	hours, err := st.Hourly(ctx, linkID, from, to)
	if err != nil {
		return Report{}, err
	}
	for _, h := range hours {
		i := int(time.Unix(h.Hour, 0).Sub(from) / step)
		if i < 0 || i >= n {
			continue
		}
		r.Series[i].Clicks += h.Humans
		r.Clicks += h.Humans
		r.BotClicks += h.Bots
	}
	// Breakdowns are kept by day: the days from's to the one before to's,
	// which is [from, to) when the interval is a day.
	bs, err := st.Breakdowns(ctx, linkID, []Dimension{DimReferrer, DimCountry, DimBrowser, DimOS, DimDevice},
		from, to.Add(-time.Nanosecond))
	if err != nil {
		return Report{}, err
	}
	r.Referrers, r.Countries, r.Browsers = top(bs[DimReferrer]), top(bs[DimCountry]), top(bs[DimBrowser])
	r.OS, r.Devices = top(bs[DimOS]), top(bs[DimDevice])
	return r, nil
}

// top turns a breakdown, most clicks first, into the top TopValues rows
// with people's clicks, then one OtherRow summing the rest.
func top(counts []DailyCount) []Row {
	rows := make([]Row, 0, TopValues+1)
	var other int64
	for _, c := range counts {
		if c.Humans == 0 {
			continue
		}
		if c.Value == OtherValue || len(rows) == TopValues {
			other += c.Humans
			continue
		}
		rows = append(rows, Row{Value: c.Value, Clicks: c.Humans})
	}
	if other > 0 {
		rows = append(rows, Row{Value: OtherRow, Clicks: other})
	}
	return rows
}
