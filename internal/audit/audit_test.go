package audit_test

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/sqlite"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
)

func open(t *testing.T) *sqlite.DB { return sqlitetest.Open(t) }

func TestRecordAndPage(t *testing.T) {
	clock := servicetest.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 6789, time.UTC))
	l := audit.New(open(t), clock.Now, nil)
	for i := range 5 {
		err := l.Record(t.Context(), audit.Entry{ActorUserID: 1, Action: audit.LinkDelete, TargetType: audit.TargetLink, TargetID: strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Second)
	}
	var seen []string
	page := audit.Page{Limit: 2}
	for range 5 {
		es, next, err := l.List(t.Context(), audit.Filter{}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			seen = append(seen, e.TargetID)
		}
		if next.Limit == 0 {
			break
		}
		page = next
	}
	if strings.Join(seen, ",") != "4,3,2,1,0" {
		t.Fatalf("paged through %v, want newest first, each once", seen)
	}
	es, _, err := l.List(t.Context(), audit.Filter{TargetType: audit.TargetLink, TargetID: "0"}, audit.Page{})
	if err != nil || len(es) != 1 {
		t.Fatalf("List(target 0) = %v, %v", es, err)
	}
	// Stamped by the clock, to the microsecond, in UTC.
	if want := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC); !es[0].At.Equal(want) || es[0].At.Location() != time.UTC {
		t.Fatalf("At = %v, want %v", es[0].At, want)
	}
}

func TestRecordRefuses(t *testing.T) {
	l := audit.New(open(t), nil, nil)
	for name, e := range map[string]audit.Entry{
		"no action":      {TargetType: audit.TargetUser},
		"no target type": {Action: audit.UserCreate},
		"detail too big": {Action: audit.UserCreate, TargetType: audit.TargetUser, Detail: map[string]any{"x": strings.Repeat("a", audit.MaxDetail)}},
		"not JSON":       {Action: audit.UserCreate, TargetType: audit.TargetUser, Detail: map[string]any{"f": func() {}}},
	} {
		if err := l.Record(t.Context(), e); err == nil {
			t.Errorf("%s: Record succeeded", name)
		}
	}
	for name, tc := range map[string]struct {
		f audit.Filter
		p audit.Page
	}{
		"negative limit": {audit.Filter{}, audit.Page{Limit: -1}},
		"huge limit":     {audit.Filter{}, audit.Page{Limit: audit.MaxLimit + 1}},
		"id, no type":    {audit.Filter{TargetID: "3"}, audit.Page{}},
		"deep family":    {audit.Filter{Action: "user.role."}, audit.Page{}},
	} {
		if _, _, err := l.List(t.Context(), tc.f, tc.p); err == nil {
			t.Errorf("%s: List succeeded", name)
		}
	}
}

// TestRecordLogsWhatItCannotStore checks that an entry the store refuses
// reaches the error log whole.
func TestRecordLogsWhatItCannotStore(t *testing.T) {
	db := open(t)
	var buf bytes.Buffer
	l := audit.New(db, nil, slog.New(slog.NewJSONHandler(&buf, nil)))
	db.Close()
	err := l.Record(t.Context(), audit.Entry{ActorUserID: 7, Action: audit.KeyRevoke, TargetType: audit.TargetKey, TargetID: "42",
		Detail: map[string]any{"name": "ci"}})
	if err == nil {
		t.Fatal("Record on a closed store succeeded")
	}
	out := buf.String()
	for _, want := range []string{`"level":"ERROR"`, `"action":"key.revoke"`, `"actor_user_id":7`, `"target_id":"42"`, `"name":"ci"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log %s lacks %s", out, want)
		}
	}
}

func TestLink(t *testing.T) {
	clock := servicetest.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	l := audit.New(open(t), clock.Now, nil)
	err := l.Link(t.Context(), audit.Actor{UserID: 7, KeyID: 9}, audit.LinkDisable, "abc1234", map[string]any{"reason": "phishing"})
	if err != nil {
		t.Fatal(err)
	}
	es, _, err := l.List(t.Context(), audit.Filter{TargetType: audit.TargetLink, TargetID: "abc1234"}, audit.Page{})
	if err != nil || len(es) != 1 {
		t.Fatalf("List = %v, %v", es, err)
	}
	e := es[0]
	if e.ActorUserID != 7 || e.ActorKeyID != 9 || e.Action != audit.LinkDisable || !e.At.Equal(clock.Now()) || e.Detail["reason"] != "phishing" {
		t.Fatalf("entry = %+v", e)
	}
}
