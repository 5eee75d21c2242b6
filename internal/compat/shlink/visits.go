package shlink

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/link"
)

// ShlinkVersion is the Shlink release whose REST API this package
// follows (testdata/swagger is its API document). /rest/health reports
// it as the server's version, since Shlink's clients pick the features
// they use by that version.
const ShlinkVersion = "5.1.5"

// Visits reads click analytics for the visit routes and counts.
type Visits interface {
	// Totals returns the clicks of all time of each of the links that
	// has any, by link id; analytics.Stats is one.
	Totals(ctx context.Context, linkIDs []int64) (map[int64]analytics.TotalCount, error)
	// Visits returns the link's latest visits kept, newest first, at
	// most limit; analytics.Stats is one.
	Visits(ctx context.Context, linkID int64, limit int) ([]analytics.StoredVisit, error)
	// Summary returns the clicks of all time of the links p may see, and
	// the orphan visits (to no link) when p is an admin (0 otherwise).
	Summary(ctx context.Context, p link.Principal) (links analytics.TotalCount, orphans int64, err error)
}

// MaxListedVisits bounds the visits a link's visit list reads: the newest
// this many of those kept (raw visits are kept for the analytics visit
// retention, 30 days by default), which the list then filters and pages.
const MaxListedVisits = 5000

// visit is one visit as Shlink lists it.
type visit struct {
	Referer      string        `json:"referer"`
	Date         string        `json:"date"`
	UserAgent    string        `json:"userAgent"`
	PotentialBot bool          `json:"potentialBot"`
	VisitedURL   *string       `json:"visitedUrl"`
	Location     visitLocation `json:"visitLocation"`
}

// visitLocation is where a visit came from, as far as it is known: the
// country, when a GeoIP database is configured; the rest is not kept.
type visitLocation struct {
	CountryCode string  `json:"countryCode"`
	CountryName string  `json:"countryName"`
	RegionName  string  `json:"regionName"`
	CityName    string  `json:"cityName"`
	Latitude    float64 `json:"latitude"`
	Longitude   float64 `json:"longitude"`
	Timezone    string  `json:"timezone"`
	IsEmpty     bool    `json:"isEmpty"`
}

// noVisits answers a visits list with none, paged as asked.
func noVisits(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	writeJSON(w, http.StatusOK, map[string]any{
		"visits": paginate([]visit{}, intParam(q, "page", 1), intParam(q, "itemsPerPage", -1)),
	})
}

// countVisits fills in the visits summary of each of urls from click
// analytics, in one query. A failure to read them leaves them at 0 rather
// than failing the request: the links matter more than their counts.
func (a *API) countVisits(ctx context.Context, urls []shortURL) {
	if a.visits == nil || len(urls) == 0 {
		return
	}
	ids := make([]int64, len(urls))
	for i, u := range urls {
		ids[i] = u.id
	}
	totals, err := a.visits.Totals(ctx, ids)
	if err != nil {
		a.log.WarnContext(ctx, "reading visits of short URLs", "err", err)
		return
	}
	for i := range urls {
		t := totals[urls[i].id]
		urls[i].VisitsSummary = visitsSummary{Total: t.Humans + t.Bots, NonBots: t.Humans, Bots: t.Bots}
	}
}

// ShortURLVisits serves GET /rest/v3/short-urls/{shortCode}/visits: a
// missing link is short-url-not-found, as in Shlink; an existing one lists
// its visits kept, newest first, filtered by startDate, endDate and
// excludeBots and paged by page and itemsPerPage as Shlink does.
func (a *API) ShortURLVisits(w http.ResponseWriter, r *http.Request) {
	who, d, c, err := a.shortURLOf(r)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	l, err := a.links.GetOn(r.Context(), d, c, who)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	if a.visits == nil {
		noVisits(w, r)
		return
	}
	q := r.URL.Query()
	var from, until time.Time
	if s := q.Get("startDate"); s != "" {
		t, ok := parseTime(s)
		if !ok {
			a.Fail(w, r, invalidData("startDate must be an ISO 8601 date.", "startDate"))
			return
		}
		from = t
	}
	if s := q.Get("endDate"); s != "" {
		t, ok := parseTime(s)
		if !ok {
			a.Fail(w, r, invalidData("endDate must be an ISO 8601 date.", "endDate"))
			return
		}
		until = t
	}
	noBots := q.Get("excludeBots") == "true" || q.Get("excludeBots") == "1"
	kept, err := a.visits.Visits(r.Context(), l.ID, MaxListedVisits)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	out := make([]visit, 0, len(kept))
	for _, v := range kept {
		at := time.Unix(0, v.At).UTC()
		bot := v.Bot || v.UserAgent.Bot
		if (noBots && bot) || (!from.IsZero() && at.Before(from)) || (!until.IsZero() && at.After(until)) {
			continue
		}
		out = append(out, visit{
			Referer: v.Referrer, Date: at.Format(isoTime), UserAgent: v.UserAgent.Value, PotentialBot: bot,
			Location: visitLocation{CountryCode: v.Country, IsEmpty: v.Country == ""},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"visits": paginate(out, intParam(q, "page", 1), intParam(q, "itemsPerPage", -1)),
	})
}

// VisitsList serves the other visit lists (orphan, non-orphan, of a tag,
// of a domain), which are empty.
func (a *API) VisitsList(w http.ResponseWriter, r *http.Request) {
	if _, err := a.principal(r, false); err != nil {
		a.Fail(w, r, err)
		return
	}
	noVisits(w, r)
}

// Visits serves GET /rest/v3/visits, the summary of every visit: the
// clicks of all time of the links the key may see (imported counts
// included), and for an admin's key the visits that found no link.
func (a *API) Visits(w http.ResponseWriter, r *http.Request) {
	who, err := a.principal(r, false)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	var links analytics.TotalCount
	var orphans int64
	if a.visits != nil {
		if links, orphans, err = a.visits.Summary(r.Context(), who); err != nil {
			a.Fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"visits": map[string]visitsSummary{
		"nonOrphanVisits": {Total: links.Humans + links.Bots, NonBots: links.Humans, Bots: links.Bots},
		"orphanVisits":    {Total: orphans, NonBots: orphans},
	}})
}

// tagInfo is a tag with its counts, for /tags/stats.
type tagInfo struct {
	Tag            string        `json:"tag"`
	ShortURLsCount int64         `json:"shortUrlsCount"`
	VisitsSummary  visitsSummary `json:"visitsSummary"`
}

// tags returns the tags of the links who may see, with their counts,
// filtered by searchTerm and ordered as orderBy says (tag-ASC, tag-DESC).
func (a *API) tags(w http.ResponseWriter, r *http.Request) ([]tagInfo, bool) {
	who, err := a.principal(r, false)
	if err != nil {
		a.Fail(w, r, err)
		return nil, false
	}
	counts, err := a.links.Tags(r.Context(), who)
	if err != nil {
		a.Fail(w, r, err)
		return nil, false
	}
	q := r.URL.Query()
	term := strings.ToLower(q.Get("searchTerm"))
	out := []tagInfo{}
	for _, c := range counts {
		if term == "" || strings.Contains(strings.ToLower(c.Tag), term) {
			out = append(out, tagInfo{Tag: c.Tag, ShortURLsCount: c.Links})
		}
	}
	if strings.HasSuffix(q.Get("orderBy"), "-DESC") {
		slices.Reverse(out)
	}
	return out, true
}

// Tags serves GET /rest/v3/tags.
func (a *API) Tags(w http.ResponseWriter, r *http.Request) {
	infos, ok := a.tags(w, r)
	if !ok {
		return
	}
	names := make([]string, len(infos))
	for i, t := range infos {
		names[i] = t.Tag
	}
	q := r.URL.Query()
	writeJSON(w, http.StatusOK, map[string]any{
		"tags": paginate(names, intParam(q, "page", 1), intParam(q, "itemsPerPage", -1)),
	})
}

// TagStats serves GET /rest/v3/tags/stats: each tag with how many links
// carry it; visits are not counted per tag yet.
func (a *API) TagStats(w http.ResponseWriter, r *http.Request) {
	infos, ok := a.tags(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	writeJSON(w, http.StatusOK, map[string]any{
		"tags": paginate(infos, intParam(q, "page", 1), intParam(q, "itemsPerPage", -1)),
	})
}

// redirects are a domain's not-found redirects, which Shortlinks does not
// have.
type redirects struct {
	BaseURLRedirect         *string `json:"baseUrlRedirect"`
	Regular404Redirect      *string `json:"regular404Redirect"`
	InvalidShortURLRedirect *string `json:"invalidShortUrlRedirect"`
}

// Domains serves GET /rest/v3/domains: the domains short links are on,
// the default one first.
func (a *API) Domains(w http.ResponseWriter, r *http.Request) {
	if _, err := a.principal(r, false); err != nil {
		a.Fail(w, r, err)
		return
	}
	type domain struct {
		Domain    string    `json:"domain"`
		IsDefault bool      `json:"isDefault"`
		Redirects redirects `json:"redirects"`
	}
	data := []domain{{Domain: a.host, IsDefault: true}}
	if a.domains != nil {
		for _, d := range a.domains.List() {
			if d.ID != link.DefaultDomain {
				data = append(data, domain{Domain: d.Host})
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"domains": map[string]any{
		"data":             data,
		"defaultRedirects": redirects{},
	}})
}

// MercureInfo serves GET /rest/v3/mercure-info as a Shlink without a
// Mercure hub does; the web client then polls instead.
func (a *API) MercureInfo(w http.ResponseWriter, r *http.Request) {
	if _, err := a.principal(r, false); err != nil {
		a.Fail(w, r, err)
		return
	}
	a.Fail(w, r, errMercureOff)
}

// Health serves GET /rest/health, unauthenticated: pass while the
// service can serve, fail (503) when it cannot.
func (a *API) Health(w http.ResponseWriter, r *http.Request) {
	status, code := "pass", http.StatusOK
	if a.healthy != nil {
		if err := a.healthy(r.Context()); err != nil {
			a.log.WarnContext(r.Context(), "shlink health check failed", "err", err)
			status, code = "fail", http.StatusServiceUnavailable
		}
	}
	writeJSON(w, code, map[string]any{
		"status":  status,
		"version": ShlinkVersion,
		"links": map[string]string{
			"about":   "https://github.com/shortlinks/shortlinks",
			"project": "https://github.com/shortlinks/shortlinks",
		},
	})
}
