package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// maxFormBytes bounds the form body, as the API bounds its JSON body.
const maxFormBytes = 64 << 10

// option is one choice of expiry. Value is the lifetime in seconds, the
// same unit as the API's expires_in, so the script can send it as it is.
type option struct {
	Value    string
	Label    string
	Selected bool
}

type expiry struct {
	label string
	d     time.Duration // zero: never
}

// value is the form value for e: its lifetime in seconds, or empty.
func (e expiry) value() string {
	if e.d == 0 {
		return ""
	}
	return strconv.FormatInt(int64(e.d/time.Second), 10)
}

var expiries = []expiry{
	{"Never", 0},
	{"In 1 hour", time.Hour},
	{"In 1 day", 24 * time.Hour},
	{"In 7 days", 7 * 24 * time.Hour},
	{"In 30 days", 30 * 24 * time.Hour},
}

// inputFor maps a link.Error field to the id of the input that shows it.
var inputFor = map[string]string{
	"url":        "url",
	"alias":      "alias",
	"expires_in": "expires",
	"expires_at": "expires",
}

func (p *Pages) homeData(form formValues) pageData {
	d := pageData{Title: "Shorten a link", KeysRequired: p.requireKey, Form: form}
	for _, e := range expiries {
		d.Expiries = append(d.Expiries, option{Value: e.value(), Label: e.label, Selected: e.value() == form.ExpiresIn})
	}
	return d
}

// Home serves the page with an empty form.
func (p *Pages) Home(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, p.home, http.StatusOK, p.homeData(formValues{}))
}

// Shorten creates a link from the form and answers with the page showing
// the new link, or the form again with each problem beside its input.
//
// The page has no way to present an API key, so the links it creates are
// anonymous; when the server requires keys it explains that instead. The
// route table puts SameOrigin in front of it.
func (p *Pages) Shorten(w http.ResponseWriter, r *http.Request) {
	if p.requireKey {
		p.render(w, r, p.home, http.StatusForbidden, p.homeData(formValues{}))
		return
	}
	form, err := p.readForm(w, r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			p.errorPage(w, r, edge.Problem{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
				Message: "The form is too large to send; shorten the URL."})
			return
		}
		p.errorPage(w, r, edge.Problem{Status: http.StatusBadRequest, Code: "malformed_form",
			Message: "The form could not be read; reload the page and try again."})
		return
	}
	d := p.homeData(form)

	params := link.CreateParams{URL: form.URL, Alias: link.Code(form.Alias), Owner: link.Principal{}}
	known := false
	for _, e := range expiries {
		if e.value() == form.ExpiresIn {
			params.ExpiresIn, known = e.d, true
		}
	}
	if !known {
		d.Errors = []fieldError{{Input: "expires", Message: "Choose one of the expiry times in the list."}}
		p.render(w, r, p.home, http.StatusBadRequest, d)
		return
	}

	l, err := p.links.Create(r.Context(), params)
	if err != nil {
		// Described as the API describes it, and shown beside its input.
		pr := edge.Describe(w, r, p.log, err)
		d.Errors = []fieldError{{Input: inputFor[pr.Field], Message: pr.Message}}
		p.render(w, r, p.home, pr.Status, d)
		return
	}
	d = p.homeData(formValues{})
	d.Result = result{
		Code:      string(l.Code),
		ShortURL:  p.base + "/" + string(l.Code),
		URL:       l.URL,
		ExpiresAt: l.ExpiresAt,
	}
	p.render(w, r, p.home, http.StatusCreated, d)
}

// readForm reads the posted form, bounded in size.
func (p *Pages) readForm(w http.ResponseWriter, r *http.Request) (formValues, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return formValues{}, err
	}
	return formValues{
		// People paste URLs with stray spaces around them; inside, a
		// space is an error the service reports.
		URL:       strings.TrimSpace(r.PostFormValue("url")),
		Alias:     strings.TrimSpace(r.PostFormValue("alias")),
		ExpiresIn: r.PostFormValue("expires_in"),
	}, nil
}
