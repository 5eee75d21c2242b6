package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/link"
)

// linkPageSize is how many links a page of the list shows.
const linkPageSize = 25

// linkRow is a link as the dashboard shows it.
type linkRow struct {
	Code     string
	ShortURL string
	// Domain is the host of the link's branded domain; empty on the
	// default domain.
	Domain string
	// Q names the link's domain on the dashboard's link paths: "" or
	// "?domain=host".
	Q              string
	QRSVG, QRPNG   string // the link's QR code
	StatsPath      string // its stats page; empty: none on its domain
	URL            string
	Title          string
	Tags           []string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	Expired        bool
	Disabled       bool
	DisabledAt     time.Time
	DisabledReason string
	MaxVisits      int64
	Password       bool
	ForwardQuery   bool
	Rules          []string // each rule in words
	Clicks         int64
	HasClicks      bool // Clicks was read
}

func (d *Dashboard) row(l link.Link) linkRow {
	r := linkRow{
		Code: string(l.Code), ShortURL: d.shortURL(l), Q: d.domainQuery(l.Domain),
		URL: l.URL, Title: l.Title, Tags: l.Tags,
		CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt, Expired: l.Expired(time.Now()),
		Disabled: !l.DisabledAt.IsZero(), DisabledAt: l.DisabledAt, DisabledReason: l.DisabledReason,
		MaxVisits: l.MaxVisits, Password: l.PasswordHash != "", ForwardQuery: l.ForwardQuery,
	}
	for _, rule := range l.Rules {
		r.Rules = append(r.Rules, ruleText(rule))
	}
	r.QRSVG, r.QRPNG = d.p.qrURL(r.Code, "svg", 0), d.p.qrURL(r.Code, "png", 1024)
	r.StatsPath = "/links/" + url.PathEscape(r.Code) + "/stats" + r.Q
	if l.Domain != link.DefaultDomain && d.domains != nil {
		r.Domain = d.domains.Host(l.Domain)
		if r.QRSVG != "" {
			// The QR endpoint takes the domain as the API's link paths do.
			q := "&domain=" + url.QueryEscape(r.Domain)
			r.QRSVG, r.QRPNG = r.QRSVG+q, r.QRPNG+q
		}
	}
	return r
}

// shortURL is l's short URL, on its domain: the base URL's scheme with
// the branded domain's host.
func (d *Dashboard) shortURL(l link.Link) string { return d.p.shortURL(l.Domain, l.Code) }

// withClicks fills the rows' clicks, when clicks are counted. A failure
// to read them leaves the page without them rather than failing it.
func (d *Dashboard) withClicks(r *http.Request, rows []linkRow, ids []int64) {
	if d.clicks == nil || len(rows) == 0 {
		return
	}
	totals, err := d.clicks.Totals(r.Context(), ids)
	if err != nil {
		d.p.log.WarnContext(r.Context(), "reading clicks of links", "err", err)
		return
	}
	for i := range rows {
		rows[i].Clicks, rows[i].HasClicks = totals[ids[i]].Humans, true
	}
}

// listView is the list's search, filter and sort, as the page shows them.
type listView struct {
	Q        string
	Tag      string
	Sort     string
	Tags     []option // the tags to filter by
	Sorts    []option
	Filtered bool   // a search, a tag or a domain narrows the list
	Domain   string // the short domain the list is narrowed to; "": any
}

// listSorts are the orders of the list: the API's sort values.
var listSorts = []struct{ value, label string }{
	{"-created", "Newest first"},
	{"created", "Oldest first"},
	{"-clicks", "Most clicked first"},
	{"clicks", "Least clicked first"},
}

// Links lists the signed-in user's links, everyone's for an admin, a page
// at a time: newest first, or as the sort says, narrowed by a search of
// the code, title and destination (q) and by a tag.
func (d *Dashboard) Links(w http.ResponseWriter, r *http.Request) {
	u, ok := d.user(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	view := listView{Q: strings.TrimSpace(q.Get("q")), Tag: q.Get("tag"), Sort: q.Get("sort"), Domain: q.Get("domain")}
	lq := link.ListQuery{Limit: linkPageSize, Search: view.Q, Tag: view.Tag}
	if view.Domain != "" && d.domains != nil {
		dom, err := d.domains.Named(view.Domain)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		lq.OnDomain, lq.Domain, view.Domain = true, dom.ID, dom.Host
	}
	switch view.Sort {
	case "created":
		lq.Oldest = true
	case "-clicks":
		lq.ByClicks = true
	case "clicks":
		lq.ByClicks, lq.Oldest = true, true
	default:
		view.Sort = "-created"
	}
	if lq.ByClicks && d.clicks == nil {
		lq.ByClicks, view.Sort = false, "-created"
	}
	if s := q.Get("after"); s != "" {
		c, err := link.ParseCursor(s)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		lq.After = &c
	}
	page, err := d.links.Search(r.Context(), u.Principal(), lq)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	tags, err := d.links.Tags(r.Context(), u.Principal())
	if err != nil {
		d.fail(w, r, err)
		return
	}
	title := "Your links"
	if u.Role == account.RoleAdmin {
		title = "All links"
	}
	dd := d.data(r, u, title, "links")
	dd.ShowClick = d.clicks != nil
	view.Filtered = view.Q != "" || view.Tag != "" || view.Domain != ""
	view.Tags = append(view.Tags, option{Value: "", Label: "All tags", Selected: view.Tag == ""})
	for _, t := range tags {
		view.Tags = append(view.Tags, option{Value: t.Tag, Label: t.Tag, Selected: t.Tag == view.Tag})
	}
	for _, s := range listSorts {
		if strings.HasSuffix(s.value, "clicks") && d.clicks == nil {
			continue
		}
		view.Sorts = append(view.Sorts, option{Value: s.value, Label: s.label, Selected: s.value == view.Sort})
	}
	dd.List = view
	ids := make([]int64, 0, len(page.Links))
	for _, l := range page.Links {
		dd.Links = append(dd.Links, d.row(l))
		ids = append(ids, l.ID)
	}
	d.withClicks(r, dd.Links, ids)
	if page.Next != nil {
		next := url.Values{}
		if view.Q != "" {
			next.Set("q", view.Q)
		}
		if view.Tag != "" {
			next.Set("tag", view.Tag)
		}
		if view.Domain != "" {
			next.Set("domain", view.Domain)
		}
		if view.Sort != "-created" {
			next.Set("sort", view.Sort)
		}
		next.Set("after", page.Next.String())
		dd.NextPage = "/links?" + next.Encode()
	}
	d.render(w, r, "links", http.StatusOK, dd)
}

// createInputs maps a create error's field to the input that shows it.
var createInputs = map[string]string{
	"url":        "url",
	"alias":      "alias",
	"expires_in": "expires",
	"expires_at": "expires",
	"domain":     "domain",
}

func (d *Dashboard) newLinkData(r *http.Request, u account.User, expiresIn, domain string) dashData {
	dd := d.data(r, u, "New link", "new")
	dd.DomainChoices = d.domainChoices(u, domain)
	for _, e := range expiries {
		dd.Expiries = append(dd.Expiries, option{Value: e.value(), Label: e.label, Selected: e.value() == expiresIn})
	}
	dd.Options = linkOptions{Rules: blankRules(nil)}
	return dd
}

// NewLink serves the form that creates a link.
func (d *Dashboard) NewLink(w http.ResponseWriter, r *http.Request) {
	u, ok := d.user(w, r)
	if !ok {
		return
	}
	d.render(w, r, "link_new", http.StatusOK, d.newLinkData(r, u, "", r.URL.Query().Get("domain")))
}

// CreateLink creates a link owned by the signed-in user, with the options
// the form sets, and shows it, or the form again with each problem beside
// its input.
func (d *Dashboard) CreateLink(w http.ResponseWriter, r *http.Request) {
	u, ok := d.user(w, r)
	if !ok || !d.readForm(w, r) {
		return
	}
	form := map[string]string{
		"url":        strings.TrimSpace(r.PostFormValue("url")),
		"alias":      strings.TrimSpace(r.PostFormValue("alias")),
		"expires_in": r.PostFormValue("expires_in"),
		"domain":     r.PostFormValue("domain"),
	}
	dd := d.newLinkData(r, u, form["expires_in"], form["domain"])
	dd.Form = form
	patch, opts, rows, errs := readOptions(r, nil)
	dd.Options = opts
	params := link.CreateParams{URL: form["url"], Alias: link.Code(form["alias"]), Owner: u.Principal(), Options: &patch,
		Domain: form["domain"]}
	known := false
	for _, e := range expiries {
		if e.value() == form["expires_in"] {
			params.ExpiresIn, known = e.d, true
		}
	}
	if !known {
		errs = append(errs, fieldError{Input: "expires", Message: "Choose one of the expiry times in the list."})
	}
	if len(errs) > 0 {
		dd.Errors = errs
		d.render(w, r, "link_new", http.StatusBadRequest, dd)
		return
	}
	l, err := d.links.Create(r.Context(), params)
	if err != nil {
		status, fe := d.problemAt(w, r, err, func(field string) string { return optionInput(field, rows, createInputs) })
		dd.Errors = []fieldError{fe}
		d.render(w, r, "link_new", status, dd)
		return
	}
	d.setFlash(r.Context(), "Created "+d.shortURL(l)+".")
	seeOther(w, r, d.linkPath(l))
}

// linkFor returns the link of the path's code as u may see it; a link
// they may not see is not found, as one that does not exist.
func (d *Dashboard) linkFor(w http.ResponseWriter, r *http.Request, u account.User) (link.Link, bool) {
	dom, err := d.domainParam(r)
	if err != nil {
		d.fail(w, r, err)
		return link.Link{}, false
	}
	l, err := d.links.GetOn(r.Context(), dom, link.Code(r.PathValue("code")), u.Principal())
	if err != nil {
		d.fail(w, r, err)
		return link.Link{}, false
	}
	return l, true
}

// Link shows one link: its details, its QR code, its clicks, the form
// that edits it and what else can be done with it.
func (d *Dashboard) Link(w http.ResponseWriter, r *http.Request) {
	u, ok := d.user(w, r)
	if !ok {
		return
	}
	l, ok := d.linkFor(w, r, u)
	if !ok {
		return
	}
	d.render(w, r, "link", http.StatusOK, d.linkData(r, u, l))
}

// linkData is the link page of l, its edit form filled with what is
// stored.
func (d *Dashboard) linkData(r *http.Request, u account.User, l link.Link) dashData {
	dd := d.data(r, u, "Link "+string(l.Code), "links")
	dd.Link = d.row(l)
	rows := []linkRow{dd.Link}
	d.withClicks(r, rows, []int64{l.ID})
	dd.Link, dd.ShowClick = rows[0], d.clicks != nil
	dd.Form["url"] = l.URL
	dd.Form["expires_at"] = localTime(l.ExpiresAt)
	dd.Options = optionsOf(l)
	return dd
}

// ConfirmDelete asks before a link is deleted.
func (d *Dashboard) ConfirmDelete(w http.ResponseWriter, r *http.Request) {
	u, ok := d.user(w, r)
	if !ok {
		return
	}
	l, ok := d.linkFor(w, r, u)
	if !ok {
		return
	}
	dd := d.data(r, u, "Delete "+string(l.Code)+"?", "links")
	dd.Link = d.row(l)
	d.render(w, r, "link_delete", http.StatusOK, dd)
}

// DeleteLink deletes the link once confirmed; its code is never given out
// again.
func (d *Dashboard) DeleteLink(w http.ResponseWriter, r *http.Request) {
	u, ok := d.user(w, r)
	if !ok || !d.readForm(w, r) {
		return
	}
	code := link.Code(r.PathValue("code"))
	dom, err := d.domainParam(r)
	if err == nil {
		err = d.links.DeleteOn(r.Context(), dom, code, u.Principal())
	}
	if err != nil {
		if errors.Is(err, link.ErrNotFound) {
			d.setFlashError(r.Context(), "There is no link "+string(code)+" to delete.")
			seeOther(w, r, "/links")
			return
		}
		d.fail(w, r, err)
		return
	}
	d.setFlash(r.Context(), "Deleted "+d.p.shortURL(dom, code)+".")
	seeOther(w, r, "/links")
}
