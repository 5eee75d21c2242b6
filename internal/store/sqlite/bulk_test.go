package sqlite_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

func TestInsertBatch(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	var batch []link.Link
	for i := range 2500 {
		l := link.Link{Code: link.Code(fmt.Sprintf("bulk%04d", i)), URL: fmt.Sprintf("https://example.com/%d", i), CreatedAt: now}
		if i%2 == 0 {
			l.ExpiresAt = now.Add(time.Hour)
		}
		batch = append(batch, l)
	}
	if err := db.InsertBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 1234, 2499} {
		got, err := db.Get(ctx, batch[i].Code)
		if err != nil {
			t.Fatalf("Get(%s): %v", batch[i].Code, err)
		}
		if got.URL != batch[i].URL || !got.CreatedAt.Equal(now) || !got.ExpiresAt.Equal(batch[i].ExpiresAt) || got.Owner != 0 {
			t.Errorf("Get(%s) = %+v, want %+v", batch[i].Code, got, batch[i])
		}
	}

	// One taken code fails the batch, and none of it is stored.
	again := []link.Link{
		{Code: "fresh1", URL: "https://example.com/a", CreatedAt: now},
		{Code: batch[7].Code, URL: "https://example.com/b", CreatedAt: now},
	}
	if err := db.InsertBatch(ctx, again); !errors.Is(err, link.ErrCodeTaken) {
		t.Fatalf("InsertBatch with a taken code = %v, want ErrCodeTaken", err)
	}
	if _, err := db.Get(ctx, "fresh1"); !errors.Is(err, link.ErrNotFound) {
		t.Fatalf("Get(fresh1) after a failed batch = %v, want ErrNotFound", err)
	}
	if got, _ := db.Get(ctx, batch[7].Code); got.URL != batch[7].URL {
		t.Fatalf("failed batch overwrote %s: %q", batch[7].Code, got.URL)
	}
	if err := db.InsertBatch(ctx, nil); err != nil {
		t.Fatalf("InsertBatch(nil) = %v", err)
	}
	// The writer still works for ordinary inserts afterwards.
	if err := db.Insert(ctx, link.Link{Code: "after", URL: "https://example.com/after", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
}
