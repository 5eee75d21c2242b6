// Package report takes abuse reports about short links from anyone, and
// lets administrators list and resolve them. Resolving is recorded in the
// audit log. It sits below HTTP: the API, the "Report this link" page and
// the command line call it, and the storage engines implement its Store.
package report

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/link"
)

// Reason is why a link is reported. The names are stable: they are
// stored, sent by clients and shown.
type Reason string

// The reasons a report may give. Anything else goes under Other, with
// the details saying what.
const (
	Phishing Reason = "phishing" // imitates another site to take credentials or payment details
	Malware  Reason = "malware"  // serves or leads to malicious software
	Spam     Reason = "spam"     // sent unsolicited, in bulk
	Fraud    Reason = "fraud"    // a scam other than phishing
	Illegal  Reason = "illegal"  // content that is unlawful
	Other    Reason = "other"
)

// Reasons lists every reason, in the order forms show them.
var Reasons = []Reason{Phishing, Malware, Spam, Fraud, Illegal, Other}

// Label is the reason for people to read.
func (r Reason) Label() string {
	switch r {
	case Phishing:
		return "Phishing: it imitates another site to take passwords or payment details"
	case Malware:
		return "Malware: it serves or leads to harmful software"
	case Spam:
		return "Spam: I received it unsolicited"
	case Fraud:
		return "Fraud or a scam"
	case Illegal:
		return "Illegal content"
	case Other:
		return "Something else (say what below)"
	}
	return string(r)
}

// Status is where a report stands.
type Status string

// The statuses; a report is open until an administrator resolves it.
const (
	Open     Status = "open"
	Resolved Status = "resolved"
)

// Report is one abuse report.
type Report struct {
	ID   int64
	Code link.Code
	// Domain is the id of the short domain the link is on:
	// link.DefaultDomain, or a link.Domain's ID.
	Domain    int64
	Reason    Reason
	Details   string // free text from the reporter; may be empty
	Contact   string // how to reach the reporter, if they gave it; shown only to admins
	CreatedAt time.Time

	// Set when resolved.
	ResolvedAt     time.Time
	Note           string // the administrator's resolution note
	ResolvedByUser int64  // 0: none (an operator, or a service key)
	ResolvedByKey  int64  // 0: none (the command line)
}

// Status reports whether r is open or resolved.
func (r Report) Status() Status {
	if r.ResolvedAt.IsZero() {
		return Open
	}
	return Resolved
}

// Resolution is what resolving a report records.
type Resolution struct {
	At     time.Time
	Note   string
	ByUser int64
	ByKey  int64
}

// Store keeps reports.
//
// CreateReport stores r and returns it with its ID set; ids grow with
// each report. ListReports returns reports with status (all when empty)
// and ids below before (when not zero), newest first, at most limit.
// ResolveReport marks report id resolved, atomically, and returns it:
// ErrNotFound for an unknown id, ErrAlreadyResolved for a report that is
// resolved already (which it leaves as it was).
type Store interface {
	CreateReport(ctx context.Context, r Report) (Report, error)
	ListReports(ctx context.Context, status Status, before int64, limit int) ([]Report, error)
	ResolveReport(ctx context.Context, id int64, res Resolution) (Report, error)
}

// Limits on what a report may hold, in characters.
const (
	MaxDetails = 2000
	MaxContact = 320
	MaxNote    = 2000
)

// Errors the service returns. Their codes are part of the API.
var (
	ErrNotFound        = &link.Error{Kind: link.NotFound, Code: "report_not_found", Message: "There is no report with that id."}
	ErrAlreadyResolved = &link.Error{Kind: link.Conflict, Code: "report_resolved", Message: "That report is resolved already."}
	ErrAdminRequired   = &link.Error{Kind: link.Forbidden, Code: "admin_required", Message: "This needs an administrator's API key with the admin scope."}
	errMissingCode     = &link.Error{Kind: link.Invalid, Code: "missing_code", Field: "code", Message: "Say which short link you are reporting: its code or its short URL."}
	errReason          = &link.Error{Kind: link.Invalid, Code: "invalid_reason", Field: "reason",
		Message: "Choose a reason: phishing, malware, spam, fraud, illegal or other."}
	errDetails = &link.Error{Kind: link.Invalid, Code: "invalid_details", Field: "details",
		Message: fmt.Sprintf("The details must be plain text of at most %d characters.", MaxDetails)}
	errOtherNeedsDetails = &link.Error{Kind: link.Invalid, Code: "missing_details", Field: "details",
		Message: "With the reason \"other\", say in the details what is wrong."}
	errContact = &link.Error{Kind: link.Invalid, Code: "invalid_contact", Field: "contact",
		Message: fmt.Sprintf("The contact must be plain text of at most %d characters, such as an email address.", MaxContact)}
	errNote = &link.Error{Kind: link.Invalid, Code: "invalid_note", Field: "note",
		Message: fmt.Sprintf("A resolution needs a note of 1 to %d characters saying what was done.", MaxNote)}
	errLimit = &link.Error{Kind: link.Invalid, Code: "invalid_limit", Field: "limit",
		Message: fmt.Sprintf("limit must be a whole number from 1 to %d.", MaxPageSize)}
	errStatus = &link.Error{Kind: link.Invalid, Code: "invalid_status", Field: "status",
		Message: "status must be open, resolved or all."}
)

// Page sizes for List.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Links finds the link a report is about, on any domain; *link.Service
// is one.
type Links interface {
	ResolveOn(ctx context.Context, d int64, c link.Code) (link.Link, error)
}

// Auditor records actions; *audit.Log is one.
type Auditor interface {
	Record(ctx context.Context, e audit.Entry) error
}

// Options configure a Service.
type Options struct {
	Audit Auditor          // records resolutions; nil records nothing
	Log   *slog.Logger     // receives audit failures; nil discards them
	Now   func() time.Time // nil: time.Now
}

// Service takes reports and resolves them.
type Service struct {
	store Store
	links Links
	audit Auditor
	log   *slog.Logger
	now   func() time.Time
}

// New returns a Service keeping reports in store and checking the links
// they name with links.
func New(store Store, links Links, opts Options) *Service {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{store: store, links: links, audit: opts.Audit, log: opts.Log, now: opts.Now}
}

// NewReport is what a reporter sends.
type NewReport struct {
	Code string // a code, or a short URL ending in one
	// Domain is the id of the short domain the link is on (the default
	// one: link.DefaultDomain).
	Domain  int64
	Reason  Reason
	Details string
	Contact string
}

// Submit records a report about a link anyone may send. It returns
// *link.Error values of kind Invalid for bad input and link.ErrNotFound
// for a code no link has ever had; an expired or disabled link can still
// be reported.
func (s *Service) Submit(ctx context.Context, nr NewReport) (Report, error) {
	c, err := codeOf(nr.Code)
	if err != nil {
		return Report{}, err
	}
	if !validReason(nr.Reason) {
		return Report{}, errReason
	}
	details := strings.TrimSpace(nr.Details)
	if !plainText(details, MaxDetails, true) {
		return Report{}, errDetails
	}
	if nr.Reason == Other && details == "" {
		return Report{}, errOtherNeedsDetails
	}
	contact := strings.TrimSpace(nr.Contact)
	if !plainText(contact, MaxContact, false) {
		return Report{}, errContact
	}
	if _, err := s.links.ResolveOn(ctx, nr.Domain, c); err != nil {
		var le *link.Error
		if !errors.As(err, &le) || le.Kind != link.Gone {
			return Report{}, err
		}
	}
	r, err := s.store.CreateReport(ctx, Report{
		Code: c, Domain: nr.Domain, Reason: nr.Reason, Details: details, Contact: contact,
		CreatedAt: s.now().UTC().Truncate(time.Microsecond),
	})
	if err != nil {
		return Report{}, fmt.Errorf("report %s: %w", c, err)
	}
	return r, nil
}

// codeOf takes the code from what a reporter pasted: the code itself, or
// the short URL (with or without its scheme, a trailing "+" of the
// preview, a slash).
func codeOf(s string) (link.Code, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errMissingCode
	}
	s = strings.TrimRight(s, "/+")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimSuffix(s, "+")
	if !link.ValidCode(link.Code(s)) {
		return "", link.ErrNotFound
	}
	return link.Code(s), nil
}

func validReason(r Reason) bool {
	for _, v := range Reasons {
		if r == v {
			return true
		}
	}
	return false
}

// plainText reports whether s is valid UTF-8 of at most max characters
// without control characters (newlines and tabs allowed where multiline)
// or invisible format characters such as bidirectional overrides, which
// could make a report read differently to the admin than it was written.
func plainText(s string, max int, multiline bool) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		switch {
		case multiline && (r == '\n' || r == '\r' || r == '\t'):
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			return false
		}
	}
	return true
}

// Page is a page of reports, newest first; Next is the before of the
// next page, 0 on the last.
type Page struct {
	Reports []Report
	Next    int64
}

// ParseStatus reads a status filter: "open", "resolved", or "all" (or
// empty) for every report.
func ParseStatus(s string) (Status, error) {
	switch s {
	case "", "all":
		return "", nil
	case string(Open), string(Resolved):
		return Status(s), nil
	}
	return "", errStatus
}

// List returns a page of reports with status (every report when empty),
// newest first, to an admin. before zero starts from the newest; limit
// zero means DefaultPageSize.
func (s *Service) List(ctx context.Context, by link.Principal, status Status, before int64, limit int) (Page, error) {
	if !by.Admin {
		return Page{}, ErrAdminRequired
	}
	switch {
	case limit == 0:
		limit = DefaultPageSize
	case limit < 0 || limit > MaxPageSize:
		return Page{}, errLimit
	}
	rs, err := s.store.ListReports(ctx, status, before, limit+1)
	if err != nil {
		return Page{}, fmt.Errorf("list reports: %w", err)
	}
	var p Page
	if len(rs) > limit {
		rs = rs[:limit]
		p.Next = rs[limit-1].ID
	}
	p.Reports = rs
	return p, nil
}

// Resolve marks report id resolved by an admin, with a note saying what
// was done, and records it in the audit log. It returns ErrNotFound and
// ErrAlreadyResolved as the Store does.
func (s *Service) Resolve(ctx context.Context, by link.Principal, id int64, note string) (Report, error) {
	if !by.Admin {
		return Report{}, ErrAdminRequired
	}
	note = strings.TrimSpace(note)
	if note == "" || !plainText(note, MaxNote, true) {
		return Report{}, errNote
	}
	r, err := s.store.ResolveReport(ctx, id, Resolution{
		At: s.now().UTC().Truncate(time.Microsecond), Note: note, ByUser: by.UserID, ByKey: by.KeyID,
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrAlreadyResolved) {
			return Report{}, err
		}
		return Report{}, fmt.Errorf("resolve report %d: %w", id, err)
	}
	if s.audit != nil {
		err := s.audit.Record(ctx, audit.Entry{
			ActorUserID: by.UserID, ActorKeyID: by.KeyID, Action: audit.ReportResolve,
			TargetType: audit.TargetReport, TargetID: strconv.FormatInt(id, 10),
			Detail: reportDetail(r, note),
		})
		if err != nil {
			// The resolution stands; the audit log wrote the entry to the
			// error log.
			s.log.ErrorContext(ctx, "audit", "action", string(audit.ReportResolve), "report_id", id, "err", err)
		}
	}
	return r, nil
}

// reportDetail is the audit entry's detail of resolving r with note; the
// domain is named by its id when not the default one.
func reportDetail(r Report, note string) map[string]any {
	d := map[string]any{"code": string(r.Code), "reason": string(r.Reason), "note": note}
	if r.Domain != link.DefaultDomain {
		d["domain_id"] = r.Domain
	}
	return d
}
