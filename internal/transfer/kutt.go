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

// KuttOptions configures a source that reads a Kutt user's links through
// Kutt's API v2.
type KuttOptions struct {
	URL      string // the server, e.g. https://kutt.it
	APIKey   string // sent as X-API-KEY; the links are those of the key's user
	PageSize int    // limit; 0 means 50, the most Kutt gives
	Resume   string // a Progress.Resume token from an earlier Kutt source
	HTTP     HTTP
}

// kuttSource pages through GET /api/v2/links with limit and skip. Kutt
// lists newest first, so a link created during the import pushes the
// others one place down: the source remembers the ids of the page before
// and skips the ones it sees again.
type kuttSource struct {
	api   *api
	size  int
	skip  int64 // the offset of the page in buf
	buf   []result
	ids   []string // Kutt's id of each entry of buf
	prev  map[string]bool
	idx   int
	read  int64
	total int64
}

// OpenKutt checks the options and the key by fetching the first page (or
// the page to resume from). Kutt answers a wrong key with 401 and a banned
// user with 403; both are *APIError values matching ErrUnauthorized.
func OpenKutt(ctx context.Context, o KuttOptions) (Source, error) {
	if o.APIKey == "" {
		return nil, fmt.Errorf("kutt: %w", errNoCredentials)
	}
	a, err := newAPI("kutt", o.URL, http.Header{"X-Api-Key": {o.APIKey}}, o.HTTP, kuttFailure)
	if err != nil {
		return nil, err
	}
	s := &kuttSource{api: a, size: o.PageSize, total: -1}
	if s.size <= 0 || s.size > 50 {
		s.size = 50
	}
	var skip int64
	idx := 0
	if o.Resume != "" {
		t, err := parseToken("kutt", o.Resume)
		if err != nil {
			return nil, err
		}
		v, err := t.ints("read", "skip", "idx")
		if err != nil {
			return nil, err
		}
		s.read, skip, idx = v[0], v[1], int(v[2])
	}
	if err := s.load(ctx, skip); err != nil {
		return nil, err
	}
	if idx > len(s.buf) {
		return nil, fmt.Errorf("%w: Kutt has %d links from %d now, not %d", ErrResume, len(s.buf), skip, idx)
	}
	s.idx = idx
	return s, nil
}

// kuttPage is the answer of GET /api/v2/links.
type kuttPage struct {
	Total int64 `json:"total"`
	Data  items `json:"data"`
}

func (s *kuttSource) load(ctx context.Context, skip int64) error {
	q := url.Values{"limit": {strconv.Itoa(s.size)}, "skip": {strconv.FormatInt(skip, 10)}}
	var p kuttPage
	if err := s.api.get(ctx, "/api/v2/links?"+q.Encode(), &p); err != nil {
		return err
	}
	prev := make(map[string]bool, len(s.ids))
	for _, id := range s.ids {
		prev[id] = true
	}
	s.buf, s.ids = make([]result, len(p.Data)), make([]string, len(p.Data))
	for i, raw := range p.Data {
		rec, id, err := kuttRecord(raw, fmt.Sprintf("links %d", skip+int64(i)+1))
		s.buf[i], s.ids[i] = result{rec, err}, id
	}
	s.skip, s.prev, s.idx, s.total = skip, prev, 0, p.Total
	return nil
}

func (s *kuttSource) Next(ctx context.Context) (Record, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Record{}, err
		}
		if s.idx >= len(s.buf) {
			next := s.skip + int64(len(s.buf))
			if len(s.buf) == 0 || next >= s.total {
				return Record{}, io.EOF
			}
			if err := s.load(ctx, next); err != nil {
				return Record{}, err
			}
			continue
		}
		r, id := s.buf[s.idx], s.ids[s.idx]
		s.idx++
		if id != "" && s.prev[id] {
			continue // shifted here from the page before by a new link
		}
		s.read++
		return r.rec, r.err
	}
}

func (s *kuttSource) Progress() Progress {
	p := Progress{Read: s.read, Total: s.total}
	if s.read > 0 {
		t := newToken("kutt", s.read)
		skip, idx := s.skip, s.idx
		if idx >= len(s.buf) && skip+int64(len(s.buf)) < s.total {
			skip, idx = skip+int64(len(s.buf)), 0 // no need to fetch a finished page again
		}
		t.setInt("skip", skip)
		t.setInt("idx", int64(idx))
		p.Resume = t.String()
	}
	return p
}

func (s *kuttSource) Close() error { return nil }

// kuttLink is a link as Kutt's API v2 returns it. expire_in is not in the
// published schema but is in every answer; Kutt on SQLite sends it as
// "2006-01-02 15:04:05" in UTC, on PostgreSQL and MySQL as ISO 8601.
type kuttLink struct {
	ID          string  `json:"id"`
	Address     string  `json:"address"`
	Target      string  `json:"target"`
	Description *string `json:"description"`
	Domain      *string `json:"domain"`
	Link        string  `json:"link"`
	Banned      bool    `json:"banned"`
	Password    bool    `json:"password"`
	ExpireIn    *string `json:"expire_in"`
	VisitCount  int64   `json:"visit_count"`
	CreatedAt   string  `json:"created_at"`
}

func kuttRecord(raw json.RawMessage, where string) (Record, string, error) {
	var l kuttLink
	if err := json.Unmarshal(raw, &l); err != nil {
		return Record{}, "", rowErr(where, "not a link as the API documents it: %v", err)
	}
	r := Record{Ref: l.Link, Code: l.Address, URL: l.Target, Clicks: l.VisitCount, Disabled: l.Banned}
	if l.Domain != nil {
		r.Domain = strings.ToLower(*l.Domain)
	}
	if r.Ref == "" {
		r.Ref = strings.TrimPrefix(r.Domain+"/"+r.Code, "/")
	}
	if r.Ref == "" {
		r.Ref = where
	}
	if l.Description != nil {
		r.Title = *l.Description
	}
	if r.URL == "" {
		return Record{}, l.ID, rowErr(r.Ref, "target is empty")
	}
	var err error
	if r.CreatedAt, err = parseTime(l.CreatedAt, zonedLayouts, plainLayouts); err != nil {
		return Record{}, l.ID, rowErr(r.Ref, "created_at: %v", err)
	}
	if l.ExpireIn != nil {
		if r.ExpiresAt, err = parseTime(*l.ExpireIn, zonedLayouts, plainLayouts); err != nil {
			return Record{}, l.ID, rowErr(r.Ref, "expire_in: %v", err)
		}
	}
	if r.Clicks < 0 {
		return Record{}, l.ID, rowErr(r.Ref, "visit_count is negative")
	}
	if l.Password {
		r.Unsupported = []string{"password"}
	}
	if err := checkText(&r); err != nil {
		return Record{}, l.ID, &RowError{Ref: r.Ref, Err: err}
	}
	return r, l.ID, nil
}

// kuttFailure reads Kutt's {"error": "..."} bodies.
func kuttFailure(status int, _ http.Header, body []byte) (*APIError, bool) {
	var b struct {
		Error string `json:"error"`
	}
	if !jsonError(body, &b) || b.Error == "" {
		return &APIError{Message: errorText(body)}, false
	}
	return &APIError{Message: b.Error}, false
}
