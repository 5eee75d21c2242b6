package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/report"
)

// RunReports checks a report.Store against the contract in its docs.
func RunReports(t *testing.T, open func(t *testing.T) report.Store) {
	t.Run("RoundTrip", func(t *testing.T) { testReportRoundTrip(t, open(t)) })
	t.Run("ListByStatus", func(t *testing.T) { testListReports(t, open(t)) })
	t.Run("Resolve", func(t *testing.T) { testResolveReport(t, open(t)) })
	t.Run("ConcurrentResolve", func(t *testing.T) { testConcurrentResolve(t, open(t)) })
}

var reportAt = time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)

func mustReport(t *testing.T, s report.Store, r report.Report) report.Report {
	t.Helper()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = reportAt
	}
	if r.Reason == "" {
		r.Reason = report.Phishing
	}
	got, err := s.CreateReport(t.Context(), r)
	if err != nil {
		t.Fatalf("CreateReport: %v", err)
	}
	return got
}

func testReportRoundTrip(t *testing.T, s report.Store) {
	in := report.Report{Code: "abc1234", Reason: report.Other, Details: "Claims to be my bank.\nAsks for a PIN.",
		Contact: "Zoë <zoe@example.com>", CreatedAt: reportAt}
	r := mustReport(t, s, in)
	if r.ID == 0 {
		t.Fatal("CreateReport returned no id")
	}
	second := mustReport(t, s, report.Report{Code: "abc1234"})
	if second.ID <= r.ID {
		t.Fatalf("ids do not grow: %d then %d", r.ID, second.ID)
	}
	rs, err := s.ListReports(t.Context(), "", 0, 10)
	if err != nil || len(rs) != 2 {
		t.Fatalf("ListReports = %v, %v", rs, err)
	}
	got := rs[1]
	in.ID = r.ID
	if got != in {
		t.Fatalf("read back %+v\nwant %+v", got, in)
	}
	if got.Status() != report.Open {
		t.Fatalf("a new report is %s", got.Status())
	}
}

func testListReports(t *testing.T, s report.Store) {
	var ids []int64
	for range 5 {
		ids = append(ids, mustReport(t, s, report.Report{Code: "abc1234"}).ID)
	}
	for _, id := range []int64{ids[1], ids[3]} {
		if _, err := s.ResolveReport(t.Context(), id, report.Resolution{At: reportAt.Add(time.Hour), Note: "done"}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(status report.Status, before int64, limit int, want ...int64) {
		t.Helper()
		rs, err := s.ListReports(t.Context(), status, before, limit)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, r := range rs {
			got = append(got, r.ID)
			if status != "" && r.Status() != status {
				t.Errorf("ListReports(%q) gave report %d, which is %s", status, r.ID, r.Status())
			}
		}
		if len(got) != len(want) {
			t.Fatalf("ListReports(%q, %d, %d) = %v, want %v", status, before, limit, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("ListReports(%q, %d, %d) = %v, want %v", status, before, limit, got, want)
			}
		}
	}
	check("", 0, 10, ids[4], ids[3], ids[2], ids[1], ids[0])
	check(report.Open, 0, 10, ids[4], ids[2], ids[0])
	check(report.Resolved, 0, 10, ids[3], ids[1])
	check(report.Open, 0, 2, ids[4], ids[2])
	check(report.Open, ids[2], 2, ids[0])
	check("", ids[1], 10, ids[0])
}

func testResolveReport(t *testing.T, s report.Store) {
	r := mustReport(t, s, report.Report{Code: "xyz7890", Reason: report.Malware})
	res := report.Resolution{At: reportAt.Add(time.Minute), Note: "Disabled the link.", ByUser: 4, ByKey: 9}
	got, err := s.ResolveReport(t.Context(), r.ID, res)
	if err != nil {
		t.Fatal(err)
	}
	if !got.ResolvedAt.Equal(res.At) || got.Note != res.Note || got.ResolvedByUser != 4 || got.ResolvedByKey != 9 ||
		got.Code != "xyz7890" || got.Reason != report.Malware || got.Status() != report.Resolved {
		t.Fatalf("resolved report = %+v", got)
	}
	_, err = s.ResolveReport(t.Context(), r.ID, report.Resolution{At: reportAt.Add(time.Hour), Note: "again"})
	if !errors.Is(err, report.ErrAlreadyResolved) {
		t.Fatalf("resolving twice = %v, want ErrAlreadyResolved", err)
	}
	rs, err := s.ListReports(t.Context(), report.Resolved, 0, 10)
	if err != nil || len(rs) != 1 || rs[0].Note != res.Note {
		t.Fatalf("a second resolution changed the first: %+v, %v", rs, err)
	}
	if _, err := s.ResolveReport(t.Context(), r.ID+100, res); !errors.Is(err, report.ErrNotFound) {
		t.Fatalf("resolving an unknown report = %v, want ErrNotFound", err)
	}
	// An operator's resolution has neither a user nor a key.
	op := mustReport(t, s, report.Report{Code: "xyz7890"})
	got, err = s.ResolveReport(t.Context(), op.ID, report.Resolution{At: reportAt, Note: "n"})
	if err != nil || got.ResolvedByUser != 0 || got.ResolvedByKey != 0 {
		t.Fatalf("operator's resolution = %+v, %v", got, err)
	}
}

func testConcurrentResolve(t *testing.T, s report.Store) {
	r := mustReport(t, s, report.Report{Code: "abc1234"})
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.ResolveReport(context.WithoutCancel(t.Context()), r.ID, report.Resolution{At: reportAt, Note: "mine"})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, report.ErrAlreadyResolved):
			t.Errorf("concurrent resolve: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent resolutions succeeded, want 1", won, n)
	}
}
