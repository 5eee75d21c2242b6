package report_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/report"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/sqlite"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
)

type fixture struct {
	db      *sqlite.DB
	clock   *servicetest.Clock
	links   *link.Service
	reports *report.Service
	log     *audit.Log
}

// newFixture is the report service over a real SQLite database, with the
// link service it checks codes with and the audit log it records in.
func newFixture(t testing.TB) fixture {
	t.Helper()
	db := sqlitetest.Open(t)
	clock := servicetest.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	links := link.NewService(db, db, nil, link.Options{Now: clock.Now})
	log := audit.New(db, clock.Now, nil)
	return fixture{db: db, clock: clock, links: links, log: log,
		reports: report.New(db, links, report.Options{Audit: log, Now: clock.Now})}
}

func (f fixture) link(t testing.TB, code string, expires time.Time) {
	t.Helper()
	_, err := f.links.Create(t.Context(), link.CreateParams{URL: "https://example.com/" + code, Alias: link.Code(code), ExpiresAt: expires})
	if err != nil {
		t.Fatal(err)
	}
}

var admin = link.Principal{KeyID: 3, UserID: 2, Admin: true, Scopes: link.AllScopes}

func TestSubmit(t *testing.T) {
	f := newFixture(t)
	f.link(t, "bank-login", time.Time{})
	f.link(t, "soon-gone", f.clock.Now().Add(time.Minute))

	r, err := f.reports.Submit(t.Context(), report.NewReport{Code: "https://sho.rt/bank-login+", Reason: report.Phishing,
		Details: "  Asks for my PIN.\n", Contact: " me@example.org "})
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == 0 || r.Code != "bank-login" || r.Details != "Asks for my PIN." || r.Contact != "me@example.org" ||
		!r.CreatedAt.Equal(f.clock.Now()) || r.Status() != report.Open {
		t.Fatalf("Submit = %+v", r)
	}

	f.clock.Add(time.Hour)
	if _, err := f.reports.Submit(t.Context(), report.NewReport{Code: "soon-gone", Reason: report.Spam}); err != nil {
		t.Errorf("reporting an expired link: %v", err)
	}

	tests := []struct {
		name string
		nr   report.NewReport
		want string
	}{
		{"no code", report.NewReport{Reason: report.Spam}, "missing_code"},
		{"unknown code", report.NewReport{Code: "nothing-here", Reason: report.Spam}, "not_found"},
		{"not a code", report.NewReport{Code: "a b", Reason: report.Spam}, "not_found"},
		{"unknown reason", report.NewReport{Code: "bank-login", Reason: "rude"}, "invalid_reason"},
		{"no reason", report.NewReport{Code: "bank-login"}, "invalid_reason"},
		{"other without details", report.NewReport{Code: "bank-login", Reason: report.Other, Details: "  "}, "missing_details"},
		{"details too long", report.NewReport{Code: "bank-login", Reason: report.Spam, Details: strings.Repeat("é", report.MaxDetails+1)}, "invalid_details"},
		{"bidi override in details", report.NewReport{Code: "bank-login", Reason: report.Spam, Details: "see \u202Egnp.exe"}, "invalid_details"},
		{"escape in details", report.NewReport{Code: "bank-login", Reason: report.Spam, Details: "\x1b[2Jcleared"}, "invalid_details"},
		{"not UTF-8", report.NewReport{Code: "bank-login", Reason: report.Spam, Details: "\xff"}, "invalid_details"},
		{"newline in contact", report.NewReport{Code: "bank-login", Reason: report.Spam, Contact: "a@b\nX-Injected: 1"}, "invalid_contact"},
		{"contact too long", report.NewReport{Code: "bank-login", Reason: report.Spam, Contact: strings.Repeat("a", report.MaxContact+1)}, "invalid_contact"},
	}
	for _, tt := range tests {
		_, err := f.reports.Submit(t.Context(), tt.nr)
		var le *link.Error
		if !errors.As(err, &le) || le.Code != tt.want {
			t.Errorf("%s: Submit = %v, want %s", tt.name, err, tt.want)
		}
	}
	page, err := f.reports.List(t.Context(), admin, report.Open, 0, 0)
	if err != nil || len(page.Reports) != 2 {
		t.Fatalf("after the refusals, List = %+v, %v; want the two reports taken", page, err)
	}
}

func TestListAndResolve(t *testing.T) {
	f := newFixture(t)
	f.link(t, "bad-link", time.Time{})
	var ids []int64
	for range 3 {
		r, err := f.reports.Submit(t.Context(), report.NewReport{Code: "bad-link", Reason: report.Malware})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	member := link.Principal{KeyID: 5, UserID: 6, Scopes: link.ScopeLinksRead | link.ScopeLinksWrite}
	if _, err := f.reports.List(t.Context(), member, "", 0, 0); !errors.Is(err, report.ErrAdminRequired) {
		t.Errorf("a member listing reports: %v", err)
	}
	if _, err := f.reports.Resolve(t.Context(), member, ids[0], "mine"); !errors.Is(err, report.ErrAdminRequired) {
		t.Errorf("a member resolving a report: %v", err)
	}

	page, err := f.reports.List(t.Context(), admin, report.Open, 0, 2)
	if err != nil || len(page.Reports) != 2 || page.Reports[0].ID != ids[2] || page.Next != ids[1] {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	page, err = f.reports.List(t.Context(), admin, report.Open, page.Next, 2)
	if err != nil || len(page.Reports) != 1 || page.Reports[0].ID != ids[0] || page.Next != 0 {
		t.Fatalf("second page = %+v, %v", page, err)
	}
	if _, err := f.reports.List(t.Context(), admin, "", 0, report.MaxPageSize+1); err == nil {
		t.Error("a limit over the largest page was accepted")
	}

	for _, note := range []string{"", "  ", strings.Repeat("n", report.MaxNote+1)} {
		if _, err := f.reports.Resolve(t.Context(), admin, ids[1], note); err == nil || !strings.Contains(err.Error(), "invalid_note") {
			t.Errorf("Resolve with note %.10q: %v", note, err)
		}
	}
	f.clock.Add(time.Minute)
	r, err := f.reports.Resolve(t.Context(), admin, ids[1], " Disabled the link. ")
	if err != nil {
		t.Fatal(err)
	}
	if r.Note != "Disabled the link." || !r.ResolvedAt.Equal(f.clock.Now()) || r.ResolvedByUser != 2 || r.ResolvedByKey != 3 {
		t.Fatalf("Resolve = %+v", r)
	}
	if _, err := f.reports.Resolve(t.Context(), admin, ids[1], "again"); !errors.Is(err, report.ErrAlreadyResolved) {
		t.Errorf("resolving twice: %v", err)
	}
	if _, err := f.reports.Resolve(t.Context(), admin, 999, "x"); !errors.Is(err, report.ErrNotFound) {
		t.Errorf("resolving an unknown report: %v", err)
	}

	// One audit entry, for the one resolution that happened.
	entries, _, err := f.log.List(t.Context(), audit.Filter{Action: audit.ReportResolve}, audit.Page{})
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit entries = %+v, %v", entries, err)
	}
	e := entries[0]
	if e.ActorUserID != 2 || e.ActorKeyID != 3 || e.TargetType != audit.TargetReport || e.TargetID != "2" ||
		e.Detail["note"] != "Disabled the link." || e.Detail["code"] != "bad-link" || !e.At.Equal(f.clock.Now()) {
		t.Fatalf("audit entry = %+v", e)
	}
}

func TestParseStatus(t *testing.T) {
	for in, want := range map[string]report.Status{"": "", "all": "", "open": report.Open, "resolved": report.Resolved} {
		if got, err := report.ParseStatus(in); err != nil || got != want {
			t.Errorf("ParseStatus(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := report.ParseStatus("closed"); err == nil {
		t.Error("ParseStatus(closed) succeeded")
	}
}

// FuzzSubmit feeds what a reporter controls through the checks: whatever
// it is, a report is refused with a client error or stored as plain text.
func FuzzSubmit(f *testing.F) {
	fx := newFixture(f)
	fx.link(f, "bank-login", time.Time{})
	f.Add("bank-login", "phishing", "details", "me@example.org")
	f.Add("https://sho.rt/bank-login+", "other", "\u202e", "")
	f.Add("/bank-login/", "spam", "a\r\nb", "\x00")
	f.Fuzz(func(t *testing.T, code, reason, details, contact string) {
		r, err := fx.reports.Submit(t.Context(), report.NewReport{Code: code, Reason: report.Reason(reason), Details: details, Contact: contact})
		if err != nil {
			var le *link.Error
			if !errors.As(err, &le) || (le.Kind != link.Invalid && le.Kind != link.NotFound) {
				t.Fatalf("Submit(%q, %q, %q, %q) = %v, want a client error", code, reason, details, contact, err)
			}
			return
		}
		if r.Code != "bank-login" {
			t.Fatalf("Submit(%q) took a report about %q", code, r.Code)
		}
	})
}
