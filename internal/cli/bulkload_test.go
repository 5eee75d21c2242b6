package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/loadtest"
)

// TestBulkLoad checks 'shortlinks seed': links loaded straight into the
// database, with codes that the server's own generator would have made.
func TestBulkLoad(t *testing.T) {
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "links.db")
	seedOnce := func(count int, codesFile string) bulkLoadResult {
		t.Helper()
		var out, errb bytes.Buffer
		err := Run(t.Context(), []string{"seed", "--database-url", dbURL, "--count", strconv.Itoa(count), "--batch", "1000",
			"--codes-file", codesFile, "-o", "json"}, &out, &errb, nil)
		if err != nil {
			t.Fatalf("seed: %v\n%s", err, errb.String())
		}
		if !strings.Contains(errb.String(), "rows/s") {
			t.Errorf("no progress on stderr: %q", errb.String())
		}
		var res bulkLoadResult
		if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Links != count || res.RowsPerSec <= 0 {
			t.Fatalf("seed output %q: %+v, %v", out.String(), res, err)
		}
		return res
	}
	first, second := filepath.Join(dir, "a.tsv"), filepath.Join(dir, "b.tsv")
	seedOnce(2500, first)
	seedOnce(700, second)

	cfg := config.Default()
	cfg.DatabaseURL = dbURL
	db, err := app.OpenStorage(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	perm, err := db.CodeKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	// Every code in the files is stored with its URL, and decodes with the
	// database's key to the next id of its counter: the server's generator
	// made it, so nothing tells it from a code the API handed out.
	seen := map[string]bool{}
	var ids []uint64
	for _, path := range []string{first, second} {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(raw)) {
			code, url, _ := strings.Cut(strings.TrimSpace(line), "\t")
			if seen[code] {
				t.Fatalf("code %s seeded twice", code)
			}
			seen[code] = true
			l, err := db.Get(t.Context(), link.Code(code))
			if err != nil || l.URL != url || l.CreatedAt.IsZero() || !l.ExpiresAt.IsZero() || l.Owner != 0 {
				t.Fatalf("Get(%s) = %+v, %v; want URL %s", code, l, err, url)
			}
			id, err := perm.Decode(code)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
	}
	if len(ids) != 3200 {
		t.Fatalf("%d codes in the files, want 3200", len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1]+1 {
			t.Fatalf("ids %d then %d: seeded codes are not consecutive draws of the counter", ids[i-1], ids[i])
		}
	}
	codes, err := loadtest.ReadCodes(bytes.NewReader(must(os.ReadFile(first))))
	if err != nil || len(codes) != 2500 {
		t.Fatalf("the load tester reads %d codes from the file: %v", len(codes), err)
	}
	// The next id the server would take is the one after the last seeded.
	next, err := db.ReserveIDs(t.Context(), 1)
	if err != nil || next != ids[len(ids)-1]+1 {
		t.Fatalf("counter hands out %d after seeding up to %d (%v)", next, ids[len(ids)-1], err)
	}
}

func TestBulkLoadRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"seed"},
		{"seed", "--count", "10", "--batch", "0"},
		{"seed", "--count", "10", "-o", "yaml"},
	} {
		var out, errb bytes.Buffer
		args = append(args, "--database-url", "sqlite:"+filepath.Join(t.TempDir(), "x.db"))
		if err := Run(t.Context(), args, &out, &errb, nil); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
