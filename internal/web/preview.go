package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/report"
)

// Resolver finds where a link goes, on any domain; *link.Service is one.
// ResolveOn with link.DefaultDomain is Resolve.
type Resolver interface {
	Resolve(ctx context.Context, c link.Code) (link.Link, error)
	ResolveOn(ctx context.Context, d int64, c link.Code) (link.Link, error)
}

// Reporter takes abuse reports; *report.Service is one.
type Reporter interface {
	Submit(ctx context.Context, nr report.NewReport) (report.Report, error)
}

// previewData is what the preview page shows.
type previewData struct {
	Code      string
	ShortURL  string
	URL       string
	Host      hostView
	ExpiresAt time.Time
}

// ExpiresText is the expiry for people to read, in UTC.
func (d previewData) ExpiresText() string {
	return d.ExpiresAt.UTC().Format("2 January 2006, 15:04 UTC")
}

// ExpiresISO is the expiry for <time datetime>.
func (d previewData) ExpiresISO() string { return d.ExpiresAt.UTC().Format(time.RFC3339) }

// Preview serves /{code}+: where the link with code on domain d goes, with
// its host spelled out, without going there. It counts no visit. An
// unknown code gets the 404 page, an expired link the 410 page.
func (p *Pages) Preview(w http.ResponseWriter, r *http.Request, d int64, code link.Code) {
	if p.resolver == nil {
		p.errorPage(w, r, *edge.ErrNoRoute)
		return
	}
	l, err := p.resolver.ResolveOn(r.Context(), d, code)
	if err != nil {
		p.errorPage(w, r, edge.Describe(w, r, p.log, err))
		return
	}
	pd := pageData{Title: "Where this link goes", Preview: previewData{
		Code: string(l.Code), ShortURL: p.shortURL(d, l.Code), URL: l.URL,
		Host: describeHost(l.URL), ExpiresAt: l.ExpiresAt,
	}, Reports: p.reporter != nil}
	p.render(w, r, p.preview, http.StatusOK, pd)
}

// reportForm is what the report form holds.
type reportForm struct {
	Code, Reason, Details, Contact string
}

// reasonOption is one choice of reason on the form.
type reasonOption struct {
	Value, Label string
	Checked      bool
}

// reportData is what the report page and its thanks page show.
type reportData struct {
	Form     reportForm
	ShortURL string
	Reasons  []reasonOption
	ID       int64 // set once the report is taken
}

// reportInput maps a report.Service error field to the id of the input
// that shows it.
var reportInput = map[string]string{"reason": "reason-" + string(report.Reasons[0]), "details": "details", "contact": "contact"}

func (p *Pages) reportData(dom int64, form reportForm) pageData {
	d := pageData{Title: "Report this link", Report: reportData{Form: form, ShortURL: p.shortURL(dom, link.Code(form.Code))}}
	for _, r := range report.Reasons {
		d.Report.Reasons = append(d.Report.Reasons, reasonOption{Value: string(r), Label: r.Label(), Checked: string(r) == form.Reason})
	}
	return d
}

// ReportForm serves GET /report/{code}: the form for reporting the link
// with code on domain d. An unknown code gets the 404 page; an expired
// link can still be reported.
func (p *Pages) ReportForm(w http.ResponseWriter, r *http.Request, d int64) {
	if p.reporter == nil || p.resolver == nil {
		p.errorPage(w, r, *edge.ErrNoRoute)
		return
	}
	code := link.Code(r.PathValue("code"))
	if _, err := p.resolver.ResolveOn(r.Context(), d, code); err != nil {
		var le *link.Error
		if !errors.As(err, &le) || le.Kind != link.Gone {
			p.errorPage(w, r, edge.Describe(w, r, p.log, err))
			return
		}
	}
	p.render(w, r, p.report, http.StatusOK, p.reportData(d, reportForm{Code: string(code)}))
}

// Report serves POST /report/{code}: it takes the report about the link
// with code on domain d and thanks the reporter, or shows the form again
// with each problem beside its input. The route table puts SameOrigin and
// the report rate limit in front of it.
func (p *Pages) Report(w http.ResponseWriter, r *http.Request, dom int64) {
	if p.reporter == nil {
		p.errorPage(w, r, *edge.ErrNoRoute)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			p.errorPage(w, r, edge.Problem{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
				Message: "The form is too large to send; shorten the details."})
			return
		}
		p.errorPage(w, r, edge.Problem{Status: http.StatusBadRequest, Code: "malformed_form",
			Message: "The form could not be read; reload the page and try again."})
		return
	}
	form := reportForm{
		Code:    r.PathValue("code"),
		Reason:  r.PostFormValue("reason"),
		Details: strings.TrimSpace(r.PostFormValue("details")),
		Contact: strings.TrimSpace(r.PostFormValue("contact")),
	}
	rep, err := p.reporter.Submit(r.Context(), report.NewReport{
		Code: form.Code, Domain: dom, Reason: report.Reason(form.Reason), Details: form.Details, Contact: form.Contact,
	})
	if err != nil {
		pr := edge.Describe(w, r, p.log, err)
		if pr.Status == http.StatusNotFound || pr.Status >= 500 {
			p.errorPage(w, r, pr)
			return
		}
		d := p.reportData(dom, form)
		d.Errors = []fieldError{{Input: reportInput[pr.Field], Message: pr.Message}}
		p.render(w, r, p.report, pr.Status, d)
		return
	}
	d := pageData{Title: "Thank you", Report: reportData{ShortURL: p.shortURL(dom, rep.Code), ID: rep.ID}}
	p.render(w, r, p.reported, http.StatusCreated, d)
}

// shortURL is the short URL of code on domain d: on the base URL for the
// default domain, on the domain's host with the base URL's scheme for the
// others.
func (p *Pages) shortURL(d int64, code link.Code) string {
	if d == link.DefaultDomain || p.domains == nil {
		return p.base + "/" + string(code)
	}
	scheme, _, _ := strings.Cut(p.base, "://")
	return scheme + "://" + p.domains.Host(d) + "/" + string(code)
}
