package shlink

import (
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

// isoTime is how Shlink writes times: ISO 8601 to the second, with the
// offset spelled out (+00:00, not Z).
const isoTime = "2006-01-02T15:04:05-07:00"

// shortURL is a link as Shlink shows a short URL.
type shortURL struct {
	ShortCode        string        `json:"shortCode"`
	ShortURL         string        `json:"shortUrl"`
	LongURL          string        `json:"longUrl"`
	DateCreated      string        `json:"dateCreated"`
	VisitsSummary    visitsSummary `json:"visitsSummary"`
	Tags             []string      `json:"tags"`
	Meta             meta          `json:"meta"`
	Domain           *string       `json:"domain"`
	Title            *string       `json:"title"`
	Crawlable        bool          `json:"crawlable"`
	ForwardQuery     bool          `json:"forwardQuery"`
	HasRedirectRules bool          `json:"hasRedirectRules"`

	id int64 // the link's, to read its visits by
}

type meta struct {
	ValidSince *string `json:"validSince"`
	ValidUntil *string `json:"validUntil"`
	MaxVisits  *int64  `json:"maxVisits"`
}

type visitsSummary struct {
	Total   int64 `json:"total"`
	NonBots int64 `json:"nonBots"`
	Bots    int64 `json:"bots"`
}

type pagination struct {
	CurrentPage        int `json:"currentPage"`
	PagesCount         int `json:"pagesCount"`
	ItemsPerPage       int `json:"itemsPerPage"`
	ItemsInCurrentPage int `json:"itemsInCurrentPage"`
	TotalItems         int `json:"totalItems"`
}

// page is a page of a list, in Shlink's envelope: {"data": [...],
// "pagination": {...}}.
type page[T any] struct {
	Data       []T        `json:"data"`
	Pagination pagination `json:"pagination"`
}

// paginate cuts the page'th page (from 1) of perPage items out of all;
// perPage below 1 means every item on one page, as Shlink's -1 does.
func paginate[T any](all []T, pageNo, perPage int) page[T] {
	total := len(all)
	if perPage < 1 {
		perPage = max(total, 1)
	}
	if pageNo < 1 {
		pageNo = 1
	}
	pages := max((total+perPage-1)/perPage, 1)
	lo := min((pageNo-1)*perPage, total)
	hi := min(lo+perPage, total)
	data := all[lo:hi]
	if data == nil {
		data = []T{}
	}
	return page[T]{Data: data, Pagination: pagination{
		CurrentPage: pageNo, PagesCount: pages, ItemsPerPage: perPage,
		ItemsInCurrentPage: len(data), TotalItems: total,
	}}
}

func isoPtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(isoTime)
	return &s
}

// wire shows l as Shlink would.
func (a *API) wire(l link.Link) shortURL {
	u := shortURL{
		ShortCode:        string(l.Code),
		ShortURL:         a.shortURLOn(l.Domain, l.Code),
		LongURL:          l.URL,
		DateCreated:      l.CreatedAt.UTC().Format(isoTime),
		Tags:             l.Tags,
		Meta:             meta{ValidSince: isoPtr(l.ValidFrom), ValidUntil: isoPtr(l.ExpiresAt)},
		ForwardQuery:     l.ForwardQuery,
		HasRedirectRules: len(l.Rules) > 0,
		id:               l.ID,
	}
	if u.Tags == nil {
		u.Tags = []string{}
	}
	if l.MaxVisits > 0 {
		n := l.MaxVisits
		u.Meta.MaxVisits = &n
	}
	if l.Title != "" {
		t := l.Title
		u.Title = &t
	}
	if l.Domain != link.DefaultDomain && a.domains != nil {
		// Shlink writes null for its default domain, the host otherwise.
		h := a.domains.Host(l.Domain)
		u.Domain = &h
	}
	return u
}
