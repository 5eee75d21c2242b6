// Package restore is the backup and restore drill: a real server on SQLite
// is backed up by `shortlinks backup` while it serves traffic, and the
// backup, restored by `shortlinks restore`, serves the links it holds.
package restore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/e2e/e2etest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	e2etest.Cleanup()
	os.Exit(code)
}

func TestBackupRestoreDrill(t *testing.T) {
	bin := e2etest.Binary(t)
	dir := t.TempDir()
	live := "sqlite:" + filepath.Join(dir, "live.db")
	srv := e2etest.Start(t, bin, "--database-url", live, "--rate-limit-create", "0", "--log-requests", "errors")

	dest := func(i int, when string) string { return fmt.Sprintf("https://example.com/%s/%d", when, i) }
	before := map[string]string{}
	for i := range 50 {
		code, err := srv.Create(dest(i, "before"))
		if err != nil {
			t.Fatal(err)
		}
		before[code] = dest(i, "before")
	}

	// Traffic while the backup runs: creates and redirects from four
	// clients. None of them may fail because of the backup.
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
		during   atomic.Int64
	)
	codes := make([]string, 0, len(before))
	for c := range before {
		codes = append(codes, c)
	}
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				var err error
				if i%4 == 0 {
					_, err = srv.Create(dest(w*100000+i, "during"))
					during.Add(1)
				} else {
					c := codes[(w+i)%len(codes)]
					err = srv.Redirects(c, before[c])
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	backup := filepath.Join(dir, "backup.db")
	out, err := e2etest.Run(bin, "backup", "--out", backup, "--database-url", live)
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("shortlinks backup: %v\n%s", err, out)
	}
	t.Logf("shortlinks backup: %s(%d creates during the drill)", out, during.Load())
	if during.Load() == 0 {
		t.Fatal("no creates ran while the backup was taken")
	}
	if len(failures) > 0 {
		t.Fatalf("%d requests failed while the backup ran, first: %s", len(failures), failures[0])
	}

	after := map[string]string{}
	for i := range 20 {
		code, err := srv.Create(dest(i, "after"))
		if err != nil {
			t.Fatal(err)
		}
		after[code] = dest(i, "after")
	}

	// Restoring over the database a server is using is refused.
	if out, err := e2etest.Run(bin, "restore", backup, "--database-url", live); err == nil || !strings.Contains(out, "--force") {
		t.Fatalf("restore over the live database: %v\n%s; want a refusal naming --force", err, out)
	}
	restored := "sqlite:" + filepath.Join(dir, "restored.db")
	if out, err := e2etest.Run(bin, "restore", backup, "--database-url", restored); err != nil {
		t.Fatalf("shortlinks restore: %v\n%s", err, out)
	}
	srv.Stop()

	again := e2etest.Start(t, bin, "--database-url", restored, "--rate-limit-create", "0", "--log-requests", "errors")
	for code, u := range before {
		if err := again.Redirects(code, u); err != nil {
			t.Errorf("backed-up link: %v", err)
		}
	}
	for code := range after {
		resp, err := again.Get(code)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 404 {
			t.Errorf("GET /%s, made after the backup: %s, want 404 Not Found", code, resp.Status)
		}
	}
	// The restored database issues no code again: neither those it holds
	// nor those handed out after the backup, which restore skipped.
	for i := range 50 {
		code, err := again.Create(fmt.Sprintf("https://example.com/restored/%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := before[code]; dup {
			t.Errorf("the restored server reissued %s, which the backup holds", code)
		}
		if _, dup := after[code]; dup {
			t.Errorf("the restored server reissued %s, handed out after the backup", code)
		}
	}
}

func TestBackupPostgresPointsToDocs(t *testing.T) {
	bin := e2etest.Binary(t)
	out, err := e2etest.Run(bin, "restore", "x.db", "--database-url", "postgres://nobody@127.0.0.1:1/none")
	if err == nil || !strings.Contains(out, "docs/deploy.md") || !strings.Contains(out, "pgBackRest") {
		t.Fatalf("restore onto PostgreSQL: %v\n%s; want a pointer to docs/deploy.md", err, out)
	}
}
