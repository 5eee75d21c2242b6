package shlink

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

// options reads the fields of Shlink's ShortUrlEdition that are a link's
// options, from the body members in m, into a link.Patch with merge-patch
// meaning: a member left out leaves the value, null clears it.
func options(m map[string]json.RawMessage) (link.Patch, error) {
	var p link.Patch
	var err error
	if p.ValidFrom, err = timeField(m, "validSince"); err != nil {
		return p, err
	}
	if p.MaxVisits, err = maxVisitsField(m); err != nil {
		return p, err
	}
	if p.Title, err = jsonField[string](m, "title"); err != nil {
		return p, err
	}
	if p.Title.Set && p.Title.Value == "" {
		p.Title = link.Cleared[string]()
	}
	if p.Tags, err = jsonField[[]string](m, "tags"); err != nil {
		return p, err
	}
	if p.ForwardQuery, err = jsonField[bool](m, "forwardQuery"); err != nil {
		return p, err
	}
	return p, nil
}

// jsonField reads member name of m as a T.
func jsonField[T any](m map[string]json.RawMessage, name string) (link.Field[T], error) {
	raw, ok := m[name]
	switch {
	case !ok:
		return link.Field[T]{}, nil
	case string(raw) == "null":
		return link.Cleared[T](), nil
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return link.Field[T]{}, invalidData(name+" has the wrong type.", name)
	}
	return link.To(v), nil
}

func timeField(m map[string]json.RawMessage, name string) (link.Field[time.Time], error) {
	s, err := jsonField[string](m, name)
	if err != nil || !s.Set || s.Null {
		return link.Field[time.Time]{Set: s.Set, Null: s.Null}, err
	}
	if s.Value == "" {
		return link.Cleared[time.Time](), nil
	}
	t, ok := parseTime(s.Value)
	if !ok {
		return link.Field[time.Time]{}, invalidData(name+" must be an ISO 8601 date.", name)
	}
	return link.To(t), nil
}

func maxVisitsField(m map[string]json.RawMessage) (link.Field[int64], error) {
	f, err := jsonField[float64](m, "maxVisits")
	if err != nil || !f.Set || f.Null {
		return link.Field[int64]{Set: f.Set, Null: f.Null}, err
	}
	if f.Value != float64(int64(f.Value)) {
		return link.Field[int64]{}, invalidData("maxVisits must be a whole number.", "maxVisits")
	}
	return link.To(int64(f.Value)), nil
}

// EditShortURL serves PATCH /rest/v3/short-urls/{shortCode}: the fields
// sent change, the others stay, and null clears one.
func (a *API) EditShortURL(w http.ResponseWriter, r *http.Request) {
	who, d, c, err := a.shortURLOf(r)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	var m map[string]json.RawMessage
	if err := decodeBody(w, r, &m); err != nil {
		a.failNaming(w, r, err, editFields)
		return
	}
	p, err := options(m)
	if err != nil {
		a.failNaming(w, r, err, editFields)
		return
	}
	if p.URL, err = jsonField[string](m, "longUrl"); err == nil && p.URL.Null {
		err = invalidData("longUrl cannot be removed.", "longUrl")
	}
	if err != nil {
		a.failNaming(w, r, err, editFields)
		return
	}
	if p.ExpiresAt, err = timeField(m, "validUntil"); err != nil {
		a.failNaming(w, r, err, editFields)
		return
	}
	if _, err := a.links.Get(r.Context(), c, who); err != nil {
		a.Fail(w, r, err)
		return
	}
	l, err := a.links.UpdateOn(r.Context(), d, c, p, who)
	if err != nil {
		a.failNaming(w, r, err, editFields)
		return
	}
	u := []shortURL{a.wire(l)}
	a.countVisits(r.Context(), u)
	writeJSON(w, http.StatusOK, u[0])
}
