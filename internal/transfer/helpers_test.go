package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

// drained is everything a source yielded, in order.
type drained struct {
	recs []Record
	bad  []*RowError
	// order lists refs of records and ("!" + ref) of row errors as they came.
	order []string
}

// drain reads src to the end, failing the test on a fatal error.
func drain(t testing.TB, src Source) drained {
	t.Helper()
	d, err := drainErr(src, -1)
	if err != nil {
		t.Fatalf("Next: %v (after %d records)", err, len(d.recs))
	}
	return d
}

// drainErr reads src until the end, a fatal error or limit results
// (records and row errors; -1 for no limit), and returns the fatal error.
func drainErr(src Source, limit int) (drained, error) {
	var d drained
	for limit < 0 || len(d.order) < limit {
		r, err := src.Next(context.Background())
		var re *RowError
		switch {
		case err == io.EOF:
			return d, nil
		case errors.As(err, &re):
			d.bad = append(d.bad, re)
			d.order = append(d.order, "!"+re.Ref)
		case err != nil:
			return d, err
		default:
			d.recs = append(d.recs, r)
			d.order = append(d.order, r.Ref)
		}
	}
	return d, nil
}

// sameRecords reports the first difference between two record lists,
// ignoring Ref when ignoreRef is set.
func sameRecords(got, want []Record, ignoreRef bool) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d records, want %d:\n got  %v\n want %v", len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if ignoreRef {
			g.Ref, w.Ref = "", ""
		}
		if !reflect.DeepEqual(g, w) {
			return fmt.Errorf("record %d:\n got  %s\n want %s", i, show(g), show(w))
		}
	}
	return nil
}

func show(r Record) string {
	fq := "nil"
	if r.ForwardQuery != nil {
		fq = fmt.Sprint(*r.ForwardQuery)
	}
	return fmt.Sprintf("{Ref:%q Code:%q Domain:%q URL:%q Title:%q Tags:%q Created:%s Since:%s Expires:%s Max:%d FQ:%s Disabled:%v Clicks:%d Unsupported:%q}",
		r.Ref, r.Code, r.Domain, r.URL, r.Title, r.Tags, st(r.CreatedAt), st(r.ValidSince), st(r.ExpiresAt),
		r.MaxVisits, fq, r.Disabled, r.Clicks, r.Unsupported)
}

func st(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339Nano) + "/" + t.Location().String()
}

func ptr[T any](v T) *T { return &v }

// at parses an RFC 3339 time for tables outside a test.
func at(s string) time.Time {
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return v.UTC()
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

// errContains checks that err is set and mentions each of the words.
func errContains(t testing.TB, err error, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", words)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}
