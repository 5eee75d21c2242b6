package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// UpdateLink serves PATCH /api/v1/links/{code}: a JSON merge patch (RFC
// 7396) of the link, by its owner or an admin. A field set to null clears
// it; a field left out stays as it is. The answer is the link as stored.
func (s *Server) UpdateLink(w http.ResponseWriter, r *http.Request) {
	who, err := s.requireKeyFor(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if !who.Can(link.ScopeLinksWrite) {
		s.errs.Fail(w, r, errNeedsWrite)
		return
	}
	patch, err := decodePatch(w, r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	d, err := s.domainParam(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	l, err := s.links.UpdateOn(r.Context(), d, link.Code(r.PathValue("code")), patch, who)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	edge.WriteJSON(w, http.StatusOK, s.wire(l))
}

// patchFields are the fields a patch may hold, with how each is read.
var patchFields = map[string]func(raw json.RawMessage, p *link.Patch) error{
	"url": func(raw json.RawMessage, p *link.Patch) (err error) { p.URL, err = field[string]("url", raw); return },
	"title": func(raw json.RawMessage, p *link.Patch) (err error) {
		p.Title, err = field[string]("title", raw)
		return
	},
	"tags": func(raw json.RawMessage, p *link.Patch) (err error) {
		p.Tags, err = field[[]string]("tags", raw)
		return
	},
	"disabled": func(raw json.RawMessage, p *link.Patch) (err error) {
		p.Disabled, err = field[bool]("disabled", raw)
		return
	},
	"max_visits": func(raw json.RawMessage, p *link.Patch) (err error) {
		p.MaxVisits, err = field[int64]("max_visits", raw)
		return
	},
	"password": func(raw json.RawMessage, p *link.Patch) (err error) {
		p.Password, err = field[string]("password", raw)
		return
	},
	"forward_query": func(raw json.RawMessage, p *link.Patch) (err error) {
		p.ForwardQuery, err = field[bool]("forward_query", raw)
		return
	},
	"rules": func(raw json.RawMessage, p *link.Patch) (err error) {
		p.Rules, err = field[[]link.Rule]("rules", raw)
		return
	},
	"disabled_reason": func(raw json.RawMessage, p *link.Patch) (err error) {
		p.DisabledReason, err = field[string]("disabled_reason", raw)
		return
	},
	"expires_at": timeField("expires_at", func(p *link.Patch, f link.Field[time.Time]) { p.ExpiresAt = f }),
	"valid_from": timeField("valid_from", func(p *link.Patch, f link.Field[time.Time]) { p.ValidFrom = f }),
}

// decodePatch reads a merge patch: a JSON object sent as application/json
// or application/merge-patch+json.
func decodePatch(w http.ResponseWriter, r *http.Request) (link.Patch, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/merge-patch+json") {
		return link.Patch{}, problem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Send the patch as JSON, with 'Content-Type: application/merge-patch+json' or 'application/json'.")
	}
	var raw map[string]json.RawMessage
	if err := decodeJSON(w, r, &raw); err != nil {
		return link.Patch{}, err
	}
	if raw == nil {
		return link.Patch{}, problem(http.StatusBadRequest, "malformed_json", "The request body must be a JSON object.")
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names) // the first error is the same every time
	var p link.Patch
	for _, name := range names {
		read, ok := patchFields[name]
		if !ok {
			if name == "code" || name == "short_url" || name == "created_at" || name == "alias" {
				e := problem(http.StatusBadRequest, "immutable_field", fmt.Sprintf("The field %q cannot be changed.", name))
				e.Field = name
				return link.Patch{}, e
			}
			e := problem(http.StatusBadRequest, "unknown_field",
				fmt.Sprintf("The field %q is not part of this request; remove it. The fields are %s.", name, patchFieldNames()))
			e.Field = name
			return link.Patch{}, e
		}
		if err := read(raw[name], &p); err != nil {
			return link.Patch{}, err
		}
	}
	return p, nil
}

func patchFieldNames() string {
	names := make([]string, 0, len(patchFields))
	for n := range patchFields {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// field reads one patch field: null clears, anything else must be a T.
func field[T any](name string, raw json.RawMessage) (link.Field[T], error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return link.Cleared[T](), nil
	}
	var v T
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		e := jsonError(err)
		if p, ok := e.(*edge.Problem); ok && p.Code != "unknown_field" {
			p.Code, p.Field = "invalid_field_type", name
			p.Message = fmt.Sprintf("The field %q must be %s, or null to clear it.", name, kindOf[T]())
		}
		return link.Field[T]{}, e
	}
	return link.To(v), nil
}

func kindOf[T any]() string {
	switch any(*new(T)).(type) {
	case string:
		return "a string"
	case bool:
		return "true or false"
	case int64:
		return "a whole number"
	case []string:
		return "a list of strings"
	case []link.Rule:
		return `a list of rules like {"when": {"device": "ios"}, "url": "https://…"}`
	}
	return "of another type"
}

// timeField reads an RFC 3339 time, or null, and sets it with set.
func timeField(name string, set func(*link.Patch, link.Field[time.Time])) func(json.RawMessage, *link.Patch) error {
	return func(raw json.RawMessage, p *link.Patch) error {
		s, err := field[string](name, raw)
		if err != nil {
			return err
		}
		f := link.Cleared[time.Time]()
		if !s.Null {
			t, err := parseTime(name, s.Value)
			if err != nil {
				return err
			}
			f = link.To(t)
		}
		set(p, f)
		return nil
	}
}
