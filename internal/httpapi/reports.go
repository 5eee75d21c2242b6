package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/report"
)

// Reports takes abuse reports and resolves them; *report.Service is one.
type Reports interface {
	Submit(ctx context.Context, nr report.NewReport) (report.Report, error)
	List(ctx context.Context, by link.Principal, status report.Status, before int64, limit int) (report.Page, error)
	Resolve(ctx context.Context, by link.Principal, id int64, note string) (report.Report, error)
}

// ReportRequest is the body of POST /api/v1/reports.
type ReportRequest struct {
	Code string `json:"code"`
	// Domain is the host of the short domain the link is on; empty: the
	// one the short URL in Code names, else the default domain.
	Domain  string `json:"domain,omitempty"`
	Reason  string `json:"reason"`
	Details string `json:"details,omitempty"`
	Contact string `json:"contact,omitempty"`
}

// ReportReceipt is what a reporter is told: that the report was taken,
// and under which id.
type ReportReceipt struct {
	ID        int64     `json:"id"`
	Code      string    `json:"code"`
	Reason    string    `json:"reason"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// ReportJSON is a report as administrators see it.
type ReportJSON struct {
	ID               int64      `json:"id"`
	Code             string     `json:"code"`
	Domain           string     `json:"domain"` // the short domain's host
	ShortURL         string     `json:"short_url"`
	Reason           string     `json:"reason"`
	Details          string     `json:"details"`
	Contact          string     `json:"contact"`
	Status           string     `json:"status"`
	CreatedAt        time.Time  `json:"created_at"`
	ResolvedAt       *time.Time `json:"resolved_at"`
	Note             *string    `json:"note"`
	ResolvedByUserID *int64     `json:"resolved_by_user_id"`
	ResolvedByKeyID  *int64     `json:"resolved_by_key_id"`
}

// ReportList is a page of reports, newest first; NextBefore, when not
// null, is the before= of the next page.
type ReportList struct {
	Reports    []ReportJSON `json:"reports"`
	NextBefore *int64       `json:"next_before"`
}

// ResolveRequest is the body of POST /api/v1/reports/{id}/resolve.
type ResolveRequest struct {
	Note string `json:"note"`
}

func (s *Server) reportJSON(r report.Report) ReportJSON {
	out := ReportJSON{
		ID: r.ID, Code: string(r.Code), Domain: s.domainHost(r.Domain), ShortURL: s.shortURLOn(link.Link{Code: r.Code, Domain: r.Domain}),
		Reason:  string(r.Reason),
		Details: r.Details, Contact: r.Contact, Status: string(r.Status()), CreatedAt: r.CreatedAt,
	}
	if r.Status() == report.Resolved {
		at, note := r.ResolvedAt, r.Note
		out.ResolvedAt, out.Note = &at, &note
		out.ResolvedByUserID, out.ResolvedByKeyID = optID(r.ResolvedByUser), optID(r.ResolvedByKey)
	}
	return out
}

var errNoReports = &edge.Problem{Status: http.StatusNotFound, Code: "not_found", Message: "This server takes no abuse reports."}

// CreateReport serves POST /api/v1/reports: anyone may report a link. The
// route table rations reports per client address.
func (s *Server) CreateReport(w http.ResponseWriter, r *http.Request) {
	if s.reports == nil {
		s.errs.Fail(w, r, errNoReports)
		return
	}
	var req ReportRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	d, err := s.reportDomain(req)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	rep, err := s.reports.Submit(r.Context(), report.NewReport{
		Code: req.Code, Domain: d, Reason: report.Reason(req.Reason), Details: req.Details, Contact: req.Contact,
	})
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	edge.WriteJSON(w, http.StatusCreated, ReportReceipt{
		ID: rep.ID, Code: string(rep.Code), Reason: string(rep.Reason), Status: string(rep.Status()), CreatedAt: rep.CreatedAt,
	})
}

// ListReports serves GET /api/v1/reports to admin keys.
func (s *Server) ListReports(w http.ResponseWriter, r *http.Request) {
	who, err := s.requireAdmin(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if s.reports == nil {
		s.errs.Fail(w, r, errNoReports)
		return
	}
	q := r.URL.Query()
	status, err := report.ParseStatus(q.Get("status"))
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	limit, err := intParam(q.Get("limit"), "limit", 1, report.MaxPageSize)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	before, err := intParam(q.Get("before"), "before", 1, 1<<62)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	page, err := s.reports.List(r.Context(), who, status, int64(before), limit)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	out := ReportList{Reports: make([]ReportJSON, 0, len(page.Reports))}
	for _, rep := range page.Reports {
		out.Reports = append(out.Reports, s.reportJSON(rep))
	}
	if page.Next != 0 {
		out.NextBefore = &page.Next
	}
	edge.WriteJSON(w, http.StatusOK, out)
}

// ResolveReport serves POST /api/v1/reports/{id}/resolve to admin keys.
func (s *Server) ResolveReport(w http.ResponseWriter, r *http.Request) {
	who, err := s.requireAdmin(r)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	if s.reports == nil {
		s.errs.Fail(w, r, errNoReports)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		s.errs.Fail(w, r, report.ErrNotFound)
		return
	}
	var req ResolveRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	rep, err := s.reports.Resolve(r.Context(), who, id, req.Note)
	if err != nil {
		s.errs.Fail(w, r, err)
		return
	}
	edge.WriteJSON(w, http.StatusOK, s.reportJSON(rep))
}

// reportDomain is the id of the short domain a report is about: the one
// req.Domain names, else the one whose host starts the short URL in
// req.Code, else the default domain. A host that is none of the domains
// has no links: ErrNotFound.
func (s *Server) reportDomain(req ReportRequest) (int64, error) {
	host := req.Domain
	if host == "" {
		rest := strings.TrimSpace(req.Code)
		if _, after, ok := strings.Cut(rest, "://"); ok {
			rest = after
		}
		if h, _, ok := strings.Cut(rest, "/"); ok && h != "" {
			host = link.RequestHost(h)
			if s.domains == nil || !s.domains.Branded() {
				return link.DefaultDomain, nil // every host is the default domain
			}
		}
	}
	if host == "" {
		return link.DefaultDomain, nil
	}
	if s.domains == nil {
		if link.RequestHost(host) == link.RequestHost(s.baseHost()) {
			return link.DefaultDomain, nil
		}
		return 0, link.ErrNotFound
	}
	d, err := s.domains.Named(host)
	if err != nil {
		return 0, link.ErrNotFound
	}
	return d.ID, nil
}
