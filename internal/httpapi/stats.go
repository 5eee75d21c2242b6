package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// Stats is what the API reads click analytics from.
type Stats interface {
	analytics.ReportSource
	Totals(ctx context.Context, linkIDs []int64) (map[int64]analytics.TotalCount, error)
}

// DefaultStatsPeriod is the period a stats request without bounds covers,
// ending now.
const DefaultStatsPeriod = 30 * 24 * time.Hour

// StatsJSON is the body of GET /api/v1/links/{code}/stats.
type StatsJSON struct {
	Code string `json:"code"`
	// TotalClicks is people's clicks of all time, starting from those an
	// import carried over; Report.Clicks counts only the period's.
	TotalClicks int64 `json:"total_clicks"`
	analytics.Report
}

var errAnalyticsOff = problem(http.StatusNotFound, "analytics_off", "Click analytics is turned off on this server.")

// LinkStats serves GET /api/v1/links/{code}/stats?from=&to=&interval= to
// the link's owner or an admin: people's clicks over [from, to) (RFC 3339;
// by default the last 30 days), as a series by hour or day (the default),
// bots apart, and the top values of each breakdown.
func (s *Server) LinkStats(w http.ResponseWriter, r *http.Request) {
	who, d, c, err := s.linkRef(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	from, to, iv, err := StatsQuery(r, time.Now())
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	l, err := s.links.GetOn(r.Context(), d, c, who)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if s.stats == nil {
		s.errs.Fail(w, r, errAnalyticsOff)
		return
	}
	rep, err := analytics.NewReport(r.Context(), s.stats, l.ID, from, to, iv)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	totals, err := s.stats.Totals(r.Context(), []int64{l.ID})
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	edge.WriteJSON(w, http.StatusOK, StatsJSON{Code: string(l.Code), TotalClicks: totals[l.ID].Humans, Report: rep})
}

// StatsQuery reads the period and interval of a stats request: from and to
// in RFC 3339 (default: the 30 days before now), interval hour or day
// (default: day). The stats page reads the same parameters.
func StatsQuery(r *http.Request, now time.Time) (from, to time.Time, iv analytics.Interval, err error) {
	q := r.URL.Query()
	to, from = now.UTC(), now.UTC().Add(-DefaultStatsPeriod)
	iv = analytics.Day
	bad := func(field, msg string) error {
		return &link.Error{Kind: link.Invalid, Code: "invalid_" + field, Field: field, Message: msg}
	}
	if v := q.Get("to"); v != "" {
		if to, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return from, to, iv, bad("to", "to must be a time in RFC 3339, like 2026-05-01T00:00:00Z.")
		}
		from = to.Add(-DefaultStatsPeriod)
	}
	if v := q.Get("from"); v != "" {
		if from, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return from, to, iv, bad("from", "from must be a time in RFC 3339, like 2026-04-01T00:00:00Z.")
		}
	}
	switch v := q.Get("interval"); v {
	case "", "day":
	case "hour":
		iv = analytics.Hour
	default:
		return from, to, iv, bad("interval", "interval must be hour or day.")
	}
	if !from.Before(to) {
		return from, to, iv, bad("from", "from must be before to.")
	}
	step := 24 * time.Hour
	if iv == analytics.Hour {
		step = time.Hour
	}
	if to.Sub(from)/step > analytics.MaxReportPoints-2 {
		return from, to, iv, bad("from", "That period is too long for the interval: ask for days, or a shorter period.")
	}
	return from.UTC(), to.UTC(), iv, nil
}

// withClicks fills in the clicks of links, read in one query, when
// analytics is on. ids are the links' ids, in the same order. A failure to
// read them leaves them out rather than failing the request: the links
// matter more than their counts.
func (s *Server) withClicks(ctx context.Context, out []LinkJSON, ids []int64) {
	if s.stats == nil || len(out) == 0 {
		return
	}
	totals, err := s.stats.Totals(ctx, ids)
	if err != nil {
		s.log.WarnContext(ctx, "reading clicks of links", "err", err)
		return
	}
	for i := range out {
		n := totals[ids[i]].Humans
		out[i].Clicks = &n
	}
}

// Stats returns a link's click statistics over [from, to) by interval
// ("hour" or "day"); zero times and an empty interval leave the server's
// defaults.
func (c *Client) Stats(ctx context.Context, code string, from, to time.Time, interval string) (StatsJSON, error) {
	return c.StatsOn(ctx, "", code, from, to, interval)
}

// StatsOn is Stats for the link with code on the short domain host; "" is
// the default domain.
func (c *Client) StatsOn(ctx context.Context, host, code string, from, to time.Time, interval string) (StatsJSON, error) {
	q := url.Values{}
	if host != "" {
		q.Set("domain", host)
	}
	if !from.IsZero() {
		q.Set("from", from.UTC().Format(time.RFC3339))
	}
	if !to.IsZero() {
		q.Set("to", to.UTC().Format(time.RFC3339))
	}
	if interval != "" {
		q.Set("interval", interval)
	}
	path := "/api/v1/links/" + url.PathEscape(code) + "/stats"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var s StatsJSON
	err := c.do(ctx, http.MethodGet, path, nil, http.StatusOK, &s)
	return s, err
}
