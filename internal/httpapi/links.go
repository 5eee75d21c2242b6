package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// MaxBodyBytes is the largest request body the API reads.
const MaxBodyBytes = 64 << 10

// CreateRequest is the body of POST /api/v1/links, and one item of a bulk
// create.
type CreateRequest struct {
	URL       string `json:"url"`
	Alias     string `json:"alias,omitempty"`
	ExpiresAt string `json:"expires_at,omitempty"` // RFC 3339
	ExpiresIn *int64 `json:"expires_in,omitempty"` // seconds

	Title        string      `json:"title,omitempty"`
	Tags         []string    `json:"tags,omitempty"`
	ValidFrom    string      `json:"valid_from,omitempty"` // RFC 3339
	MaxVisits    *int64      `json:"max_visits,omitempty"`
	Password     string      `json:"password,omitempty"` // write-only
	ForwardQuery bool        `json:"forward_query,omitempty"`
	Rules        []link.Rule `json:"rules,omitempty"`
	// Domain is the host of the short domain to make the link on; empty:
	// the default domain.
	Domain string `json:"domain,omitempty"`
}

// LinkJSON is a link as the API shows it (link.Link is the domain's).
// Every field is always present; options a link does not have are null,
// false or empty. The password is never shown: PasswordProtected says
// whether there is one.
type LinkJSON struct {
	Code              string      `json:"code"`
	Domain            string      `json:"domain"` // the short domain's host
	ShortURL          string      `json:"short_url"`
	URL               string      `json:"url"`
	CreatedAt         time.Time   `json:"created_at"`
	ExpiresAt         *time.Time  `json:"expires_at"`
	Title             *string     `json:"title"`
	Tags              []string    `json:"tags"`
	Disabled          bool        `json:"disabled"`
	DisabledAt        *time.Time  `json:"disabled_at"`
	DisabledReason    *string     `json:"disabled_reason"`
	ValidFrom         *time.Time  `json:"valid_from"`
	MaxVisits         *int64      `json:"max_visits"`
	PasswordProtected bool        `json:"password_protected"`
	ForwardQuery      bool        `json:"forward_query"`
	Rules             []link.Rule `json:"rules"`
	// Clicks is people's clicks of all time; absent when analytics is off.
	Clicks *int64 `json:"clicks,omitempty"`
}

// LinkList is a page of links; NextCursor is null on the last page.
type LinkList struct {
	Links      []LinkJSON `json:"links"`
	NextCursor *string    `json:"next_cursor"`
}

func (s *Server) wire(l link.Link) LinkJSON {
	out := LinkJSON{
		Code: string(l.Code), Domain: s.domainHost(l.Domain), ShortURL: s.shortURLOn(l), URL: l.URL, CreatedAt: l.CreatedAt,
		ExpiresAt: optTime(l.ExpiresAt), Title: optString(l.Title), Tags: l.Tags,
		Disabled: !l.DisabledAt.IsZero(), DisabledAt: optTime(l.DisabledAt), DisabledReason: optString(l.DisabledReason),
		ValidFrom: optTime(l.ValidFrom), PasswordProtected: l.PasswordHash != "", ForwardQuery: l.ForwardQuery, Rules: l.Rules,
	}
	if l.MaxVisits != 0 {
		n := l.MaxVisits
		out.MaxVisits = &n
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if out.Rules == nil {
		out.Rules = []link.Rule{}
	}
	return out
}

// maxExpiresIn is the longest expires_in taken, in seconds: a hundred
// years is longer than any link needs, and keeps the sum with the time now
// far from overflowing.
const maxExpiresIn = 100 * 365 * 24 * 60 * 60

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// parseTime reads an RFC 3339 time given in field.
func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		code := "invalid_" + field
		if field == "expires_at" {
			code = "invalid_expiry"
		}
		return time.Time{}, &link.Error{Kind: link.Invalid, Code: code, Field: field,
			Message: field + " must be an RFC 3339 time, like 2030-01-02T15:04:05Z."}
	}
	return t, nil
}

// params turns a request body into service parameters.
func (c CreateRequest) params(owner link.Principal) (link.CreateParams, error) {
	p := link.CreateParams{URL: c.URL, Alias: link.Code(c.Alias), Owner: owner, Domain: c.Domain}
	if c.ExpiresAt != "" {
		t, err := parseTime("expires_at", c.ExpiresAt)
		if err != nil {
			return p, err
		}
		if t.IsZero() {
			// The zero time would otherwise read as "never expires".
			return p, &link.Error{Kind: link.Invalid, Code: "expiry_in_past", Field: "expires_at",
				Message: "expires_at " + c.ExpiresAt + " has already passed; leave expires_at out for a link that never expires."}
		}
		p.ExpiresAt = t
	}
	opts, err := c.options()
	if err != nil {
		return p, err
	}
	p.Options = opts
	if c.ExpiresIn != nil {
		n := *c.ExpiresIn
		if n <= 0 {
			return p, &link.Error{Kind: link.Invalid, Code: "invalid_expiry", Field: "expires_in",
				Message: "expires_in must be a positive number of seconds."}
		}
		if n > maxExpiresIn {
			return p, &link.Error{Kind: link.Invalid, Code: "invalid_expiry", Field: "expires_in",
				Message: fmt.Sprintf("expires_in is too far in the future: at most %d seconds (about 100 years).", maxExpiresIn)}
		}
		p.ExpiresIn = time.Duration(n) * time.Second
	}
	return p, nil
}

// options returns the link options c asks for, nil for none.
func (c CreateRequest) options() (*link.Patch, error) {
	var o link.Patch
	set := false
	if c.Title != "" {
		o.Title, set = link.To(c.Title), true
	}
	if len(c.Tags) > 0 {
		o.Tags, set = link.To(c.Tags), true
	}
	if c.ValidFrom != "" {
		t, err := parseTime("valid_from", c.ValidFrom)
		if err != nil {
			return nil, err
		}
		o.ValidFrom, set = link.To(t), true
	}
	if c.MaxVisits != nil {
		o.MaxVisits, set = link.To(*c.MaxVisits), true
	}
	if c.Password != "" {
		o.Password, set = link.To(c.Password), true
	}
	if c.ForwardQuery {
		o.ForwardQuery, set = link.To(true), true
	}
	if len(c.Rules) > 0 {
		o.Rules, set = link.To(c.Rules), true
	}
	if !set {
		return nil, nil
	}
	return &o, nil
}

// CreateLink serves POST /api/v1/links: anonymously, or as the owner of
// the key sent.
func (s *Server) CreateLink(w http.ResponseWriter, r *http.Request) {
	who, err := s.creator(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if who.Anonymous() && s.keys.required {
		s.errs.Fail(w, r, errKeyRequired)
		return
	}
	var req CreateRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	p, err := req.params(who)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	l, err := s.links.Create(r.Context(), p)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	w.Header().Set("Location", s.base+"/api/v1/links/"+string(l.Code)+s.domainQuery(l.Domain))
	edge.WriteJSON(w, http.StatusCreated, s.wire(l))
}

// GetLink serves GET /api/v1/links/{code} to the link's owner or an admin.
func (s *Server) GetLink(w http.ResponseWriter, r *http.Request) {
	who, d, c, err := s.linkRef(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	l, err := s.links.GetOn(r.Context(), d, c, who)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	out := []LinkJSON{s.wire(l)}
	s.withClicks(r.Context(), out, []int64{l.ID})
	edge.WriteJSON(w, http.StatusOK, out[0])
}

// linkRef reads what every single-link endpoint needs: the caller (by
// key), the short domain (?domain=) and the code in the path.
func (s *Server) linkRef(r *http.Request) (link.Principal, int64, link.Code, error) {
	who, err := s.requireKeyFor(r)
	if err != nil {
		return link.Principal{}, 0, "", err
	}
	d, err := s.domainParam(r)
	if err != nil {
		return link.Principal{}, 0, "", err
	}
	return who, d, link.Code(r.PathValue("code")), nil
}

// DeleteLink serves DELETE /api/v1/links/{code} to the link's owner or an
// admin.
func (s *Server) DeleteLink(w http.ResponseWriter, r *http.Request) {
	who, d, c, err := s.linkRef(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if err := s.links.DeleteOn(r.Context(), d, c, who); err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ListLinks serves GET /api/v1/links: the caller's links (an admin's: all),
// newest first unless sort says otherwise (created, clicks, -clicks), a
// page at a time, filtered by tag, by text in the code, title or URL (q)
// and by destination domain.
func (s *Server) ListLinks(w http.ResponseWriter, r *http.Request) {
	who, err := s.requireKeyFor(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.errs.Fail(w, r, &link.Error{Kind: link.Invalid, Code: "invalid_limit", Field: "limit",
				Message: fmt.Sprintf("limit must be a whole number from 1 to %d.", link.MaxPageSize)})
			return
		}
		limit = n
	}
	lq := link.ListQuery{Limit: limit, Tag: q.Get("tag"), Search: q.Get("q"), DestinationHost: q.Get("destination_host")}
	if err := s.listDomain(q, &lq); err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if v := q.Get("cursor"); v != "" {
		c, err := link.ParseCursor(v)
		if err != nil {
			s.errs.Fail(w, r, err)
			return
		}
		lq.After = &c
	}
	switch q.Get("sort") {
	case "", "-created":
	case "created":
		lq.Oldest = true
	case "-clicks":
		lq.ByClicks = true
	case "clicks":
		lq.ByClicks, lq.Oldest = true, true
	default:
		s.errs.Fail(w, r, &link.Error{Kind: link.Invalid, Code: "invalid_sort", Field: "sort",
			Message: "sort must be created (oldest first), -created (newest first, the default), " +
				"clicks (least clicked first) or -clicks (most clicked first)."})
		return
	}
	page, err := s.links.Search(r.Context(), who, lq)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	out := LinkList{Links: make([]LinkJSON, 0, len(page.Links))}
	ids := make([]int64, 0, len(page.Links))
	for _, l := range page.Links {
		out.Links = append(out.Links, s.wire(l))
		ids = append(ids, l.ID)
	}
	s.withClicks(r.Context(), out.Links, ids)
	if page.Next != nil {
		c := page.Next.String()
		out.NextCursor = &c
	}
	edge.WriteJSON(w, http.StatusOK, out)
}

// TagList is the tags on the caller's links.
type TagList struct {
	Tags []TagJSON `json:"tags"`
}

// TagJSON is a tag and how many of the caller's links carry it.
type TagJSON struct {
	Tag   string `json:"tag"`
	Links int64  `json:"links"`
}

// ListTags serves GET /api/v1/tags: the tags on the links the caller may
// see (an admin's: all), by name, with how many links carry each.
func (s *Server) ListTags(w http.ResponseWriter, r *http.Request) {
	who, err := s.requireKeyFor(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	tags, err := s.links.Tags(r.Context(), who)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	out := TagList{Tags: make([]TagJSON, 0, len(tags))}
	for _, t := range tags {
		out.Tags = append(out.Tags, TagJSON{Tag: t.Tag, Links: t.Links})
	}
	edge.WriteJSON(w, http.StatusOK, out)
}

// problem is a failure to read the request, which belongs to HTTP rather
// than to the link rules.
func problem(status int, code, msg string) *edge.Problem {
	return &edge.Problem{Status: status, Code: code, Message: msg}
}

// decodeJSON reads one JSON object from the body into v, strictly.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeJSONUpTo(w, r, v, MaxBodyBytes)
}

// decodeJSONUpTo is decodeJSON for a body of up to limit bytes.
func decodeJSONUpTo(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return problem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Send the body as JSON with 'Content-Type: application/json'.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return problem(http.StatusRequestEntityTooLarge, "body_too_large",
				fmt.Sprintf("The request body is larger than %d KiB.", limit>>10))
		}
		return problem(http.StatusBadRequest, "malformed_json", "The request body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return problem(http.StatusBadRequest, "malformed_json", "The request body is empty; send a JSON object.")
	}
	if err := checkKeys(body, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return problem(http.StatusBadRequest, "malformed_json", "The body holds more than one JSON value; send exactly one object.")
	}
	return nil
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return problem(http.StatusBadRequest, "malformed_json", "The request body is not valid JSON.")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return problem(http.StatusBadRequest, "malformed_json", "The request body must be a JSON object.")
		}
		e := problem(http.StatusBadRequest, "invalid_field_type",
			fmt.Sprintf("The field %q must be a %s, not a %s.", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value))
		e.Field = typ.Field
		return e
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		e := problem(http.StatusBadRequest, "unknown_field",
			fmt.Sprintf("The field %q is not part of this request; remove it.", name))
		e.Field = name
		return e
	}
	return problem(http.StatusBadRequest, "malformed_json", "The request body is not valid JSON.")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "int64", "int", "ptr":
		return "whole number"
	case "struct":
		return "object"
	}
	return goKind
}
