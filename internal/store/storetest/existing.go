package storetest

import (
	"fmt"
	"maps"
	"testing"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store"
)

func testExisting(t *testing.T, s store.Engine) {
	mustInsert(t, s, link.Link{Code: "live", URL: "https://live.example/", CreatedAt: now()})
	mustInsert(t, s, link.Link{Code: "gone", URL: "https://gone.example/", CreatedAt: now()})
	if err := s.Delete(ctx(t), "gone"); err != nil {
		t.Fatal(err)
	}
	// More codes than one SQLite statement binds.
	codes := []link.Code{"live", "gone", "never", "LIVE"}
	for i := range 1200 {
		codes = append(codes, link.Code(fmt.Sprintf("absent%04d", i)))
	}
	got, err := s.Existing(ctx(t), 0, codes)
	if err != nil {
		t.Fatal(err)
	}
	want := map[link.Code]string{"live": "https://live.example/", "gone": ""}
	if !maps.Equal(got, want) {
		t.Errorf("Existing = %v, want %v", got, want)
	}
	if got, err := s.Existing(ctx(t), 0, nil); err != nil || len(got) != 0 {
		t.Errorf("Existing(nil) = %v, %v; want nothing", got, err)
	}
}

func testCountLinks(t *testing.T, s store.Engine) {
	for i, owner := range []int64{0, 7, 7, 8} {
		mustInsert(t, s, link.Link{Code: link.Code(fmt.Sprintf("count%d", i)), URL: "https://count.example/", CreatedAt: now(), Owner: owner})
	}
	if err := s.Delete(ctx(t), "count2"); err != nil {
		t.Fatal(err)
	}
	for owner, want := range map[int64]int64{0: 3, 7: 1, 8: 1, 9: 0} {
		if n, err := s.CountLinks(ctx(t), owner); err != nil || n != want {
			t.Errorf("CountLinks(%d) = %d, %v; want %d", owner, n, err, want)
		}
	}
}

// testCountClicks: the sum is of live links' people's clicks, imported
// counts included, per key or of all.
func testCountClicks(t *testing.T, s store.Engine) {
	if err := s.InsertBatch(ctx(t), []link.Link{
		{Code: "sum0", URL: "https://sum.example/0", CreatedAt: now(), ImportedClicks: 5},
		{Code: "sum1", URL: "https://sum.example/1", CreatedAt: now(), Owner: 7, ImportedClicks: 30},
		{Code: "sum2", URL: "https://sum.example/2", CreatedAt: now(), Owner: 7, ImportedClicks: 400},
		{Code: "sum3", URL: "https://sum.example/3", CreatedAt: now(), Owner: 8},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx(t), "sum2"); err != nil {
		t.Fatal(err)
	}
	for owner, want := range map[int64]int64{0: 35, 7: 30, 8: 0, 9: 0} {
		if n, err := s.CountClicks(ctx(t), owner); err != nil || n != want {
			t.Errorf("CountClicks(%d) = %d, %v; want %d", owner, n, err, want)
		}
	}
}
