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

// CreateRequest is the body of POST /api/v1/links.
type CreateRequest struct {
	URL       string `json:"url"`
	Alias     string `json:"alias,omitempty"`
	ExpiresAt string `json:"expires_at,omitempty"` // RFC 3339
	ExpiresIn *int64 `json:"expires_in,omitempty"` // seconds
}

// Link is a link as the API shows it.
type Link struct {
	Code      string     `json:"code"`
	ShortURL  string     `json:"short_url"`
	URL       string     `json:"url"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// LinkList is a page of links; NextCursor is null on the last page.
type LinkList struct {
	Links      []Link  `json:"links"`
	NextCursor *string `json:"next_cursor"`
}

func (s *Server) wire(l link.Link) Link {
	out := Link{Code: string(l.Code), ShortURL: s.shortURL(l.Code), URL: l.URL, CreatedAt: l.CreatedAt}
	if !l.ExpiresAt.IsZero() {
		t := l.ExpiresAt
		out.ExpiresAt = &t
	}
	return out
}

// params turns a request body into service parameters.
func (c CreateRequest) params(owner link.Principal) (link.CreateParams, error) {
	p := link.CreateParams{URL: c.URL, Alias: link.Code(c.Alias), Owner: owner}
	if c.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339Nano, c.ExpiresAt)
		if err != nil {
			return p, &link.Error{Kind: link.Invalid, Code: "invalid_expiry", Field: "expires_at",
				Message: "expires_at must be an RFC 3339 time, like 2030-01-02T15:04:05Z."}
		}
		p.ExpiresAt = t
	}
	if c.ExpiresIn != nil {
		n := *c.ExpiresIn
		if n <= 0 || n > int64(time.Duration(1<<62)/time.Second) {
			return p, &link.Error{Kind: link.Invalid, Code: "invalid_expiry", Field: "expires_in",
				Message: "expires_in must be a positive number of seconds."}
		}
		p.ExpiresIn = time.Duration(n) * time.Second
	}
	return p, nil
}

// CreateLink serves POST /api/v1/links: anonymously, or as the owner of
// the key sent.
func (s *Server) CreateLink(w http.ResponseWriter, r *http.Request) {
	who, err := s.principal(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if who.Anonymous() && s.requireKey {
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
	w.Header().Set("Location", s.base+"/api/v1/links/"+string(l.Code))
	edge.WriteJSON(w, http.StatusCreated, s.wire(l))
}

// GetLink serves GET /api/v1/links/{code} to the link's owner or an admin.
func (s *Server) GetLink(w http.ResponseWriter, r *http.Request) {
	who, err := s.requireKeyFor(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	l, err := s.links.Get(r.Context(), link.Code(r.PathValue("code")), who)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	edge.WriteJSON(w, http.StatusOK, s.wire(l))
}

// DeleteLink serves DELETE /api/v1/links/{code} to the link's owner or an
// admin.
func (s *Server) DeleteLink(w http.ResponseWriter, r *http.Request) {
	who, err := s.requireKeyFor(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if err := s.links.Delete(r.Context(), link.Code(r.PathValue("code")), who); err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ListLinks serves GET /api/v1/links: the caller's links (an admin's: all),
// newest first, a page at a time.
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
	var after *link.Cursor
	if v := q.Get("cursor"); v != "" {
		c, err := link.ParseCursor(v)
		if err != nil {
			s.errs.Fail(w, r, err)
			return
		}
		after = &c
	}
	page, err := s.links.List(r.Context(), who, after, limit)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	out := LinkList{Links: make([]Link, 0, len(page.Links))}
	for _, l := range page.Links {
		out.Links = append(out.Links, s.wire(l))
	}
	if page.Next != nil {
		c := page.Next.String()
		out.NextCursor = &c
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
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return problem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Send the body as JSON with 'Content-Type: application/json'.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return problem(http.StatusRequestEntityTooLarge, "body_too_large",
				fmt.Sprintf("The request body is larger than %d KiB.", MaxBodyBytes>>10))
		}
		return problem(http.StatusBadRequest, "malformed_json", "The request body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return problem(http.StatusBadRequest, "malformed_json", "The request body is empty; send a JSON object.")
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
