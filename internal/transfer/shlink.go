package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// ShlinkOptions configures a source that reads a Shlink server's short URLs
// through its REST API v3.
type ShlinkOptions struct {
	URL      string // the server, e.g. https://s.example.com
	APIKey   string // sent as X-Api-Key; an admin key sees every short URL
	PageSize int    // itemsPerPage; 0 means 100
	Resume   string // a Progress.Resume token from an earlier Shlink source
	HTTP     HTTP
}

// result is one entry of a page: a record or the row error it made.
type result struct {
	rec Record
	err error
}

// shlinkSource pages through GET /rest/v3/short-urls oldest first, so that
// short URLs created while it reads land on pages it has not reached yet
// instead of shifting the pages it has.
type shlinkSource struct {
	api   *api
	size  int
	page  int // the page in buf, from 1; 0 before the first
	pages int
	buf   []result
	idx   int // entries of buf returned
	read  int64
	total int64
}

// OpenShlink checks the options and the key by fetching the first page (or
// the page to resume from), so that a wrong URL or key fails here. A 401
// (Shlink's invalid-api-key or missing-authentication) is an *APIError
// matching ErrUnauthorized.
func OpenShlink(ctx context.Context, o ShlinkOptions) (Source, error) {
	if o.APIKey == "" {
		return nil, fmt.Errorf("shlink: %w", errNoCredentials)
	}
	a, err := newAPI("shlink", o.URL, http.Header{"X-Api-Key": {o.APIKey}}, o.HTTP, shlinkFailure)
	if err != nil {
		return nil, err
	}
	s := &shlinkSource{api: a, size: o.PageSize, total: -1}
	if s.size <= 0 {
		s.size = 100
	}
	page, idx := 1, 0
	if o.Resume != "" {
		t, err := parseToken("shlink", o.Resume)
		if err != nil {
			return nil, err
		}
		v, err := t.ints("read", "page", "idx", "size")
		if err != nil {
			return nil, err
		}
		if v[1] < 1 {
			return nil, fmt.Errorf("%w: page %d", ErrResume, v[1])
		}
		// Pages only line up again with the same page size.
		s.read, page, idx, s.size = v[0], int(v[1]), int(v[2]), int(v[3])
	}
	if err := s.load(ctx, page); err != nil {
		return nil, err
	}
	if idx > len(s.buf) {
		return nil, fmt.Errorf("%w: page %d has %d short URLs now, not %d", ErrResume, page, len(s.buf), idx)
	}
	s.idx = idx
	return s, nil
}

// shlinkPage is the answer of GET /rest/v3/short-urls.
type shlinkPage struct {
	ShortURLs struct {
		Data       items `json:"data"`
		Pagination struct {
			CurrentPage int   `json:"currentPage"`
			PagesCount  int   `json:"pagesCount"`
			TotalItems  int64 `json:"totalItems"`
		} `json:"pagination"`
	} `json:"shortUrls"`
}

func (s *shlinkSource) load(ctx context.Context, page int) error {
	q := url.Values{
		"page":         {strconv.Itoa(page)},
		"itemsPerPage": {strconv.Itoa(s.size)},
		"orderBy":      {"dateCreated-ASC"},
	}
	var p shlinkPage
	if err := s.api.get(ctx, "/rest/v3/short-urls?"+q.Encode(), &p); err != nil {
		return err
	}
	buf := make([]result, len(p.ShortURLs.Data))
	for i, raw := range p.ShortURLs.Data {
		rec, err := shlinkRecord(raw, fmt.Sprintf("page %d item %d", page, i+1))
		buf[i] = result{rec, err}
	}
	s.page, s.buf, s.idx = page, buf, 0
	s.pages, s.total = p.ShortURLs.Pagination.PagesCount, p.ShortURLs.Pagination.TotalItems
	return nil
}

func (s *shlinkSource) Next(ctx context.Context) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	if s.idx >= len(s.buf) {
		if s.page >= s.pages || len(s.buf) == 0 {
			return Record{}, io.EOF
		}
		if err := s.load(ctx, s.page+1); err != nil {
			return Record{}, err
		}
		if len(s.buf) == 0 {
			return Record{}, io.EOF
		}
	}
	r := s.buf[s.idx]
	s.idx++
	s.read++
	return r.rec, r.err
}

func (s *shlinkSource) Progress() Progress {
	p := Progress{Read: s.read, Total: s.total}
	if s.read > 0 {
		t := newToken("shlink", s.read)
		page, idx := s.page, s.idx
		if idx >= len(s.buf) && page < s.pages {
			page, idx = page+1, 0 // no need to fetch a finished page again
		}
		t.setInt("page", int64(page))
		t.setInt("idx", int64(idx))
		t.setInt("size", int64(s.size))
		p.Resume = t.String()
	}
	return p
}

func (s *shlinkSource) Close() error { return nil }

// shlinkURL is a ShortUrl as Shlink's API v3 documents it. visitsCount is
// what Shlink 2 and early 3.x sent instead of visitsSummary;
// deviceLongUrls came before redirect rules (Shlink 3.5 to 3.7).
type shlinkURL struct {
	ShortCode     string `json:"shortCode"`
	ShortURL      string `json:"shortUrl"`
	LongURL       string `json:"longUrl"`
	DateCreated   string `json:"dateCreated"`
	VisitsSummary *struct {
		Total int64 `json:"total"`
	} `json:"visitsSummary"`
	VisitsCount *int64   `json:"visitsCount"`
	Tags        []string `json:"tags"`
	Meta        struct {
		ValidSince *string `json:"validSince"`
		ValidUntil *string `json:"validUntil"`
		MaxVisits  *int64  `json:"maxVisits"`
	} `json:"meta"`
	Domain           *string            `json:"domain"`
	Title            *string            `json:"title"`
	Crawlable        bool               `json:"crawlable"`
	ForwardQuery     *bool              `json:"forwardQuery"`
	HasRedirectRules bool               `json:"hasRedirectRules"`
	DeviceLongURLs   map[string]*string `json:"deviceLongUrls"`
}

func shlinkRecord(raw json.RawMessage, where string) (Record, error) {
	var u shlinkURL
	if err := json.Unmarshal(raw, &u); err != nil {
		return Record{}, rowErr(where, "not a short URL as the API documents it: %v", err)
	}
	r := Record{
		Ref:          u.ShortURL,
		Code:         u.ShortCode,
		URL:          u.LongURL,
		Tags:         cleanTags(u.Tags),
		ForwardQuery: u.ForwardQuery,
	}
	if u.Domain != nil {
		r.Domain = strings.ToLower(*u.Domain)
	}
	if r.Ref == "" {
		r.Ref = path.Join(r.Domain, r.Code)
	}
	if r.Ref == "" {
		r.Ref = where
	}
	if u.Title != nil {
		r.Title = *u.Title
	}
	if r.URL == "" {
		return Record{}, rowErr(r.Ref, "longUrl is empty")
	}
	var err error
	if r.CreatedAt, err = parseTime(u.DateCreated, zonedLayouts); err != nil {
		return Record{}, rowErr(r.Ref, "dateCreated: %v", err)
	}
	if u.Meta.ValidSince != nil {
		if r.ValidSince, err = parseTime(*u.Meta.ValidSince, zonedLayouts); err != nil {
			return Record{}, rowErr(r.Ref, "validSince: %v", err)
		}
	}
	if u.Meta.ValidUntil != nil {
		if r.ExpiresAt, err = parseTime(*u.Meta.ValidUntil, zonedLayouts); err != nil {
			return Record{}, rowErr(r.Ref, "validUntil: %v", err)
		}
	}
	if u.Meta.MaxVisits != nil && *u.Meta.MaxVisits > 0 {
		r.MaxVisits = *u.Meta.MaxVisits
	}
	switch {
	case u.VisitsSummary != nil:
		r.Clicks = u.VisitsSummary.Total
	case u.VisitsCount != nil:
		r.Clicks = *u.VisitsCount
	}
	if r.Clicks < 0 {
		return Record{}, rowErr(r.Ref, "the visit count is negative")
	}
	if u.HasRedirectRules {
		r.Unsupported = append(r.Unsupported, "redirect rules")
	}
	for _, v := range u.DeviceLongURLs {
		if v != nil && *v != "" {
			r.Unsupported = append(r.Unsupported, "device long URLs")
			break
		}
	}
	if u.Crawlable {
		r.Unsupported = append(r.Unsupported, "crawlable")
	}
	if err := checkText(&r); err != nil {
		return Record{}, &RowError{Ref: r.Ref, Err: err}
	}
	return r, nil
}

// shlinkFailure reads Shlink's RFC 7807 problem details.
func shlinkFailure(status int, _ http.Header, body []byte) (*APIError, bool) {
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	if !jsonError(body, &p) {
		return &APIError{Message: errorText(body)}, false
	}
	e := &APIError{Code: p.Type, Message: p.Detail}
	// "https://shlink.io/api/error/invalid-api-key" says no more than its
	// last segment; older Shlink versions sent the bare code.
	if i := strings.LastIndexByte(e.Code, '/'); i >= 0 {
		e.Code = e.Code[i+1:]
	}
	if e.Message == "" {
		e.Message = p.Title
	}
	return e, false
}
