package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// BitlyOptions configures a source that reads bitlinks through Bitly's API
// v4.
type BitlyOptions struct {
	URL      string   // the API; "" means https://api-ssl.bitly.com
	Token    string   // an access token, sent as a bearer token
	Groups   []string // GUIDs of the groups to read; all the token sees when empty
	PageSize int      // size; 0 means 100, the most Bitly gives

	// Clicks asks Bitly for each bitlink's click total
	// (GET /v4/bitlinks/{bitlink}/clicks/summary). That is one more request
	// per link, against hourly limits of about a thousand on most plans,
	// and only counts the clicks within the plan's history window; so it
	// is off unless asked for, and Record.Clicks is then 0.
	Clicks bool

	Resume string // a Progress.Resume token from an earlier Bitly source
	HTTP   HTTP
}

// bitlySource reads the groups one after the other, following each
// group's pages through pagination.next (or search_after), which is a
// cursor: links created meanwhile do not shift it.
type bitlySource struct {
	api    *api
	size   int
	clicks bool
	groups []string

	gi        int    // the group in buf
	query     string // the query that fetched buf
	nextQuery string // the query of the group's next page; "" after its last
	buf       []bitlyResult
	idx       int
	read      int64
	total     int64
}

// bitlyResult is a record of a page, with what Next still has to do for it.
type bitlyResult struct {
	result
	clicksOf string // the bitlink whose clicks this record carries, when asked for
	last     bool   // the last record of its bitlink
}

// OpenBitly lists the token's groups, asks each for its number of links
// (one request of one link per group, for Progress.Total) and fetches the
// first page, or the page to resume from. Bitly answers a bad token with
// 403 FORBIDDEN, an *APIError matching ErrUnauthorized.
func OpenBitly(ctx context.Context, o BitlyOptions) (Source, error) {
	if o.Token == "" {
		return nil, fmt.Errorf("bitly: %w", errNoCredentials)
	}
	if o.URL == "" {
		o.URL = "https://api-ssl.bitly.com"
	}
	a, err := newAPI("bitly", o.URL, http.Header{"Authorization": {"Bearer " + o.Token}}, o.HTTP, bitlyFailure)
	if err != nil {
		return nil, err
	}
	s := &bitlySource{api: a, size: o.PageSize, clicks: o.Clicks}
	if s.size <= 0 || s.size > 100 {
		s.size = 100
	}
	var g struct {
		Groups []struct {
			GUID string `json:"guid"`
		} `json:"groups"`
	}
	if err := a.get(ctx, "/v4/groups", &g); err != nil {
		return nil, err
	}
	for _, x := range g.Groups {
		if len(o.Groups) == 0 || contains(o.Groups, x.GUID) {
			s.groups = append(s.groups, x.GUID)
		}
	}
	for _, want := range o.Groups {
		if !contains(s.groups, want) {
			return nil, fmt.Errorf("bitly: the token sees no group %q", want)
		}
	}
	if err := s.count(ctx); err != nil {
		return nil, err
	}
	gi, query, idx := 0, s.firstQuery(), 0
	if o.Resume != "" {
		t, err := parseToken("bitly", o.Resume)
		if err != nil {
			return nil, err
		}
		v, err := t.ints("read", "idx")
		if err != nil {
			return nil, err
		}
		s.read, idx, query = v[0], int(v[1]), t.Get("q")
		gi = -1
		for i, guid := range s.groups {
			if guid == t.Get("group") {
				gi = i
			}
		}
		if gi < 0 {
			return nil, fmt.Errorf("%w: the token sees no group %q now", ErrResume, t.Get("group"))
		}
	}
	if len(s.groups) == 0 {
		return s, nil
	}
	if err := s.load(ctx, gi, query); err != nil {
		return nil, err
	}
	if idx > len(s.buf) {
		return nil, fmt.Errorf("%w: the page has %d records now, not %d", ErrResume, len(s.buf), idx)
	}
	s.idx = idx
	return s, nil
}

func (s *bitlySource) firstQuery() string {
	// Archived bitlinks still redirect, so they move too.
	return url.Values{"size": {strconv.Itoa(s.size)}, "archived": {"both"}}.Encode()
}

func (s *bitlySource) groupPath(guid string) string {
	return "/v4/groups/" + url.PathEscape(guid) + "/bitlinks"
}

// bitlyPage is the answer of GET /v4/groups/{group_guid}/bitlinks.
type bitlyPage struct {
	Links      items `json:"links"`
	Pagination struct {
		Next        string `json:"next"`
		Total       *int64 `json:"total"`
		SearchAfter string `json:"search_after"`
	} `json:"pagination"`
}

// count adds up the groups' totals; it leaves Total unknown (-1) if any
// group's answer has none.
func (s *bitlySource) count(ctx context.Context) error {
	s.total = 0
	q := url.Values{"size": {"1"}, "archived": {"both"}}.Encode()
	for _, guid := range s.groups {
		var p bitlyPage
		if err := s.api.get(ctx, s.groupPath(guid)+"?"+q, &p); err != nil {
			return err
		}
		if p.Pagination.Total == nil {
			s.total = -1
			return nil
		}
		s.total += *p.Pagination.Total
	}
	return nil
}

func (s *bitlySource) load(ctx context.Context, gi int, query string) error {
	var p bitlyPage
	if err := s.api.get(ctx, s.groupPath(s.groups[gi])+"?"+query, &p); err != nil {
		return err
	}
	next := ""
	switch {
	case p.Pagination.Next != "":
		u, err := url.Parse(p.Pagination.Next)
		if err != nil {
			return fmt.Errorf("bitly: pagination.next %q is not a URL: %w", p.Pagination.Next, err)
		}
		// Only the query matters: the page lives where this one did, which
		// keeps a test server or proxy in the path.
		next = u.RawQuery
	case p.Pagination.SearchAfter != "":
		next = s.firstQuery() + "&search_after=" + url.QueryEscape(p.Pagination.SearchAfter)
	}
	if next == query && next != "" {
		return fmt.Errorf("bitly: group %s: the next page is the page just read", s.groups[gi])
	}
	var buf []bitlyResult
	for i, raw := range p.Links {
		buf = append(buf, bitlyRecords(raw, fmt.Sprintf("group %s item %d", s.groups[gi], i+1), s.clicks)...)
	}
	s.gi, s.query, s.nextQuery, s.buf, s.idx = gi, query, next, buf, 0
	return nil
}

func (s *bitlySource) Next(ctx context.Context) (Record, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Record{}, err
		}
		if s.idx < len(s.buf) {
			r := s.buf[s.idx]
			if r.clicksOf != "" && r.err == nil {
				n, err := s.clickTotal(ctx, r.clicksOf)
				if err != nil {
					return Record{}, err
				}
				r.rec.Clicks = n
			}
			s.idx++
			if r.last {
				s.read++
			}
			return r.rec, r.err
		}
		switch {
		case len(s.groups) == 0:
			return Record{}, io.EOF
		case s.nextQuery != "":
			if err := s.load(ctx, s.gi, s.nextQuery); err != nil {
				return Record{}, err
			}
		case s.gi+1 < len(s.groups):
			if err := s.load(ctx, s.gi+1, s.firstQuery()); err != nil {
				return Record{}, err
			}
		default:
			return Record{}, io.EOF
		}
	}
}

func (s *bitlySource) clickTotal(ctx context.Context, bitlink string) (int64, error) {
	var segs []string
	for _, seg := range strings.Split(bitlink, "/") {
		segs = append(segs, url.PathEscape(seg))
	}
	var c struct {
		TotalClicks int64 `json:"total_clicks"`
	}
	q := url.Values{"unit": {"month"}, "units": {"-1"}}.Encode()
	if err := s.api.get(ctx, "/v4/bitlinks/"+strings.Join(segs, "/")+"/clicks/summary?"+q, &c); err != nil {
		return 0, err
	}
	return max(c.TotalClicks, 0), nil
}

func (s *bitlySource) Progress() Progress {
	p := Progress{Read: s.read, Total: s.total}
	if s.idx > 0 || s.read > 0 {
		t := newToken("bitly", s.read)
		gi, q, idx := s.gi, s.query, s.idx
		if idx >= len(s.buf) { // no need to fetch a finished page again
			switch {
			case s.nextQuery != "":
				q, idx = s.nextQuery, 0
			case gi+1 < len(s.groups):
				gi, q, idx = gi+1, s.firstQuery(), 0
			}
		}
		t.Set("group", s.groups[gi])
		t.Set("q", q)
		t.setInt("idx", int64(idx))
		p.Resume = t.String()
	}
	return p
}

func (s *bitlySource) Close() error { return nil }

// bitlink is a bitlink as Bitly's API v4 documents it (BitlinkBody).
type bitlink struct {
	ID             string            `json:"id"`
	Link           string            `json:"link"`
	LongURL        string            `json:"long_url"`
	Title          *string           `json:"title"`
	Tags           []string          `json:"tags"`
	CreatedAt      string            `json:"created_at"`
	CustomBitlinks []string          `json:"custom_bitlinks"`
	Deeplinks      []json.RawMessage `json:"deeplinks"`
}

// bitlyRecords makes the records of one bitlink: one for the bitlink itself
// and one for each custom back-half, all to the same destination. The
// clicks, which Bitly counts per bitlink, go on the first.
func bitlyRecords(raw json.RawMessage, where string, clicks bool) []bitlyResult {
	fail := func(ref string, err error) []bitlyResult {
		return []bitlyResult{{result: result{err: &RowError{Ref: ref, Err: err}}, last: true}}
	}
	var b bitlink
	if err := json.Unmarshal(raw, &b); err != nil {
		return fail(where, fmt.Errorf("not a bitlink as the API documents it: %v", err))
	}
	ref := b.ID
	if ref == "" {
		ref = where
	}
	if b.LongURL == "" {
		return fail(ref, fmt.Errorf("long_url is empty"))
	}
	base := Record{URL: b.LongURL, Tags: cleanTags(b.Tags)}
	if b.Title != nil {
		base.Title = *b.Title
	}
	var err error
	if base.CreatedAt, err = parseTime(b.CreatedAt, zonedLayouts); err != nil {
		return fail(ref, fmt.Errorf("created_at: %v", err))
	}
	if len(b.Deeplinks) > 0 {
		base.Unsupported = []string{"deeplinks"}
	}
	main := b.ID
	if main == "" {
		main = b.Link
	}
	var out []bitlyResult
	for i, short := range append([]string{main}, b.CustomBitlinks...) {
		domain, code, err := splitShortURL(short)
		if err != nil {
			return fail(ref, err)
		}
		r := base
		r.Ref, r.Domain, r.Code = domain+"/"+code, domain, code
		if i > 0 {
			r.Ref += " (custom back-half of " + ref + ")"
		}
		r.Tags = append([]string(nil), base.Tags...)
		r.Unsupported = append([]string(nil), base.Unsupported...)
		if len(r.Tags) == 0 {
			r.Tags = nil
		}
		if len(r.Unsupported) == 0 {
			r.Unsupported = nil
		}
		if err := checkText(&r); err != nil {
			return fail(ref, err)
		}
		res := bitlyResult{result: result{rec: r}}
		if i == 0 && clicks && b.ID != "" {
			res.clicksOf = b.ID
		}
		out = append(out, res)
	}
	out[len(out)-1].last = true
	return out
}

// bitlyFailure reads Bitly's error bodies ({"message": "FORBIDDEN",
// "description": ...}). Bitly has answered rate limits with 429 and with
// 403 plus an X-Ratelimit-Reason header or a RATE_LIMIT_EXCEEDED message;
// all of them mean "wait".
func bitlyFailure(status int, h http.Header, body []byte) (*APIError, bool) {
	var b struct {
		Message     string `json:"message"`
		Description string `json:"description"`
	}
	if !jsonError(body, &b) || b.Message == "" {
		return &APIError{Message: errorText(body)}, false
	}
	limited := status == http.StatusForbidden &&
		(h.Get("X-Ratelimit-Reason") != "" || strings.Contains(b.Message, "RATE_LIMIT"))
	return &APIError{Code: b.Message, Message: b.Description}, limited
}
