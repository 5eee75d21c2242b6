package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// StatsLinks finds a link its principal may see, on any domain;
// *link.Service is one. GetOn with link.DefaultDomain is Get.
type StatsLinks interface {
	Get(ctx context.Context, c link.Code, p link.Principal) (link.Link, error)
	GetOn(ctx context.Context, d int64, c link.Code, p link.Principal) (link.Link, error)
}

// Authenticator turns an API key into a principal; *apikey.Service is one.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (link.Principal, error)
}

// StatsOptions configure StatsPages.
type StatsOptions struct {
	BaseURL string // origin of short links, like https://sho.rt
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Domains are the short domains, for the pages of links on branded
	// ones (?domain=host); nil: the default domain only.
	Domains *link.Domains
}

// StatsPages serve a link's stats page to the link's owner or an admin.
// Until accounts have sessions, the visitor signs in with an API key,
// entered in a form and kept in a cookie that only this server's stats
// pages receive.
type StatsPages struct {
	links   StatsLinks
	keys    Authenticator
	stats   analytics.ReportSource
	log     *slog.Logger
	base    string
	now     func() time.Time
	page    *template.Template
	secure  bool
	domains *link.Domains
}

// keyCookie holds the API key the visitor entered. HttpOnly keeps it from
// scripts, SameSite=Strict from requests other sites start, and its path
// from every page but the stats pages.
const keyCookie = "shortlinks_stats_key"

// keyCookieAge is how long the key is remembered.
const keyCookieAge = 12 * time.Hour

// NewStatsPages returns the stats pages.
func NewStatsPages(links StatsLinks, keys Authenticator, stats analytics.ReportSource, log *slog.Logger, opts StatsOptions) (*StatsPages, error) {
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	a, err := loadAssets(static)
	if err != nil {
		return nil, fmt.Errorf("web: assets: %w", err)
	}
	funcs := template.FuncMap{"asset": a.url}
	t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/stats.html")
	if err != nil {
		return nil, fmt.Errorf("web: stats templates: %w", err)
	}
	sp := &StatsPages{
		links: links, keys: keys, stats: stats, log: log, page: t,
		base:    strings.TrimSuffix(opts.BaseURL, "/"),
		domains: opts.Domains,
		now:     opts.Now,
		secure:  strings.HasPrefix(opts.BaseURL, "https://"),
	}
	if sp.now == nil {
		sp.now = time.Now
	}
	return sp, nil
}

// A period is one of the spans the page offers.
type period struct {
	Name     string // as in ?period=
	Label    string
	Span     time.Duration
	Interval analytics.Interval
}

var periods = []period{
	{"24h", "24 hours", 24 * time.Hour, analytics.Hour},
	{"7d", "7 days", 7 * 24 * time.Hour, analytics.Day},
	{"30d", "30 days", 30 * 24 * time.Hour, analytics.Day},
	{"90d", "90 days", 90 * 24 * time.Hour, analytics.Day},
}

const defaultPeriod = 2 // 30 days, as the API

// statsData is what stats.html shows.
type statsData struct {
	Title  string
	Errors []fieldError // for the layout's title
	Code   string
	Action string // where the key form posts
	// Domain is a branded link's domain, kept on the period links; "" on
	// the default domain.
	Domain  string
	NeedKey bool
	Message string // why the key is asked for again, or what went wrong

	ShortURL string
	URL      string
	Period   period
	Periods  []period
	Report   analytics.Report
	Chart    chart
	Tables   []table
}

// Stats shows the stats page for the link in the path, or the form asking
// for an API key when the visitor has given none (or a key that no longer
// works).
func (sp *StatsPages) Stats(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	d := statsData{Title: "Stats for " + code, Code: code, Periods: periods}
	dom, domainErr := sp.linkAddress(r, &d)
	c, err := r.Cookie(keyCookie)
	if err != nil || c.Value == "" {
		d.NeedKey = true
		sp.render(w, r, http.StatusUnauthorized, d)
		return
	}
	who, err := sp.keys.Authenticate(r.Context(), c.Value)
	if err != nil {
		sp.forget(w)
		d.NeedKey, d.Message = true, "That API key no longer works. Enter a current one."
		sp.render(w, r, http.StatusUnauthorized, d)
		return
	}
	if domainErr != nil {
		sp.fail(w, r, d, domainErr)
		return
	}
	l, err := sp.links.GetOn(r.Context(), dom, link.Code(code), who)
	if err != nil {
		sp.fail(w, r, d, err)
		return
	}
	d.Period = periods[defaultPeriod]
	for _, p := range periods {
		if p.Name == r.URL.Query().Get("period") {
			d.Period = p
		}
	}
	now := sp.now()
	rep, err := analytics.NewReport(r.Context(), sp.stats, l.ID, now.Add(-d.Period.Span), now, d.Period.Interval)
	if err != nil {
		sp.fail(w, r, d, err)
		return
	}
	d.ShortURL, d.URL, d.Report = sp.shortURL(dom, l.Code), l.URL, rep
	d.Chart = newChart(rep)
	d.Tables = []table{
		newTable("Referrers", "Direct or unknown", rep.Referrers, rep.Clicks),
		newTable("Countries", "Unknown", rep.Countries, rep.Clicks),
		newTable("Browsers", "Unknown", rep.Browsers, rep.Clicks),
		newTable("Operating systems", "Unknown", rep.OS, rep.Clicks),
		newTable("Devices", "Unknown", rep.Devices, rep.Clicks),
	}
	sp.render(w, r, http.StatusOK, d)
}

// StatsKey takes the API key from the form, checks it and keeps it in the
// cookie, then sends the browser back to the page.
func (sp *StatsPages) StatsKey(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	d := statsData{Title: "Stats for " + code, Code: code, NeedKey: true}
	sp.linkAddress(r, &d)
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		d.Message = "The form could not be read; try again."
		sp.render(w, r, http.StatusBadRequest, d)
		return
	}
	key := strings.TrimSpace(r.PostForm.Get("key"))
	if key == "" {
		d.Message = "Enter an API key."
		sp.render(w, r, http.StatusBadRequest, d)
		return
	}
	if _, err := sp.keys.Authenticate(r.Context(), key); err != nil {
		var le *link.Error
		if !errors.As(err, &le) {
			sp.fail(w, r, d, err)
			return
		}
		d.Message = "That is not a valid API key."
		sp.render(w, r, http.StatusUnauthorized, d)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: keyCookie, Value: key, Path: "/links/", MaxAge: int(keyCookieAge / time.Second),
		HttpOnly: true, Secure: sp.secure, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, d.Action, http.StatusSeeOther)
}

func (sp *StatsPages) forget(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: keyCookie, Path: "/links/", MaxAge: -1, HttpOnly: true, Secure: sp.secure, SameSite: http.SameSiteStrictMode})
}

// fail shows what went wrong on the page, with the status edge gives it.
func (sp *StatsPages) fail(w http.ResponseWriter, r *http.Request, d statsData, err error) {
	pr := edge.Describe(w, r, sp.log, err)
	d.Message = pr.Message
	if pr.Status == http.StatusNotFound {
		d.Message = "No link you may see has the code " + d.Code + "."
	}
	sp.render(w, r, pr.Status, d)
}

func (sp *StatsPages) render(w http.ResponseWriter, r *http.Request, status int, d statsData) {
	var buf bytes.Buffer
	if err := sp.page.ExecuteTemplate(&buf, "layout", d); err != nil {
		sp.log.ErrorContext(r.Context(), "render stats page", "err", err)
		setPageHeaders(w.Header())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(edge.ErrInternal.Message + "\n"))
		return
	}
	setPageHeaders(w.Header())
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// chart is the series drawn as SVG bars, laid out here so that the
// template only places them.
type chart struct {
	Width, Height int
	Bars          []bar
	Max           int64
	Ticks         []tick // labels under the axis
	Empty         bool
}

type bar struct {
	X, Y, W, H float64
	Title      string
}

type tick struct {
	X     float64
	Label string
}

const (
	chartW, chartH = 800, 220
	chartTop       = 10
	chartBottom    = 30 // room for the labels
	chartLeft      = 40 // room for the scale
	chartRight     = 24 // room for the last label
)

func newChart(rep analytics.Report) chart {
	c := chart{Width: chartW, Height: chartH}
	for _, p := range rep.Series {
		c.Max = max(c.Max, p.Clicks)
	}
	c.Empty = c.Max == 0
	scale := max(c.Max, 1)
	n := len(rep.Series)
	plotW := float64(chartW - chartLeft - chartRight)
	plotH := float64(chartH - chartTop - chartBottom)
	step := plotW / float64(max(n, 1))
	gap := step * 0.15
	layout, every := "2 Jan", max(n/8, 1)
	if rep.Interval == analytics.Hour {
		layout = "15:04"
		every = max(n/8, 3)
	}
	for i, p := range rep.Series {
		h := plotH * float64(p.Clicks) / float64(scale)
		x := chartLeft + float64(i)*step
		c.Bars = append(c.Bars, bar{
			X: x + gap/2, Y: chartTop + plotH - h, W: step - gap, H: h,
			Title: p.Start.Format("2 Jan 2006 15:04") + " UTC: " + strconv.FormatInt(p.Clicks, 10) + " clicks",
		})
		if i%every == 0 {
			c.Ticks = append(c.Ticks, tick{X: x + step/2, Label: p.Start.Format(layout)})
		}
	}
	return c
}

// Baseline is the y of the chart's axis.
func (c chart) Baseline() int { return chartH - chartBottom }

// Left is the x of the chart's axis.
func (c chart) Left() int { return chartLeft }

// Top is the y of the chart's highest bar.
func (c chart) Top() int { return chartTop }

// LabelY is the y of the tick labels.
func (c chart) LabelY() int { return chartH - chartBottom + 18 }

// table is one breakdown, with each row's share of the clicks.
type table struct {
	Title string
	Rows  []tableRow
}

type tableRow struct {
	Value   string
	Clicks  int64
	Percent string
	Width   float64 // of the share bar, out of 100
}

func newTable(title, none string, rows []analytics.Row, total int64) table {
	t := table{Title: title}
	for _, r := range rows {
		v := r.Value
		switch v {
		case "":
			v = none
		case analytics.OtherRow:
			v = "Other"
		}
		share := 0.0
		if total > 0 {
			share = 100 * float64(r.Clicks) / float64(total)
		}
		t.Rows = append(t.Rows, tableRow{Value: v, Clicks: r.Clicks, Percent: strconv.FormatFloat(share, 'f', 1, 64) + "%", Width: share})
	}
	return t
}

// linkAddress sets the page's addresses for the link of the path, on the
// domain ?domain= names (none: the default domain), and returns that
// domain; a host that is none of the domains has no links: ErrNotFound.
func (sp *StatsPages) linkAddress(r *http.Request, d *statsData) (int64, error) {
	d.Action = "/links/" + url.PathEscape(d.Code) + "/stats"
	host := r.URL.Query().Get("domain")
	if host == "" {
		return link.DefaultDomain, nil
	}
	if sp.domains == nil {
		return 0, link.ErrNotFound
	}
	dom, err := sp.domains.Named(host)
	if err != nil {
		return 0, link.ErrNotFound
	}
	if dom.ID != link.DefaultDomain {
		d.Action += "?domain=" + url.QueryEscape(dom.Host)
		d.Domain = dom.Host
	}
	return dom.ID, nil
}

// shortURL is the short URL of code on domain d.
func (sp *StatsPages) shortURL(d int64, code link.Code) string {
	if d == link.DefaultDomain || sp.domains == nil {
		return sp.base + "/" + string(code)
	}
	scheme, _, _ := strings.Cut(sp.base, "://")
	return scheme + "://" + sp.domains.Host(d) + "/" + string(code)
}
