package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/link"
)

// recordingDisabler records what it was asked to disable, to check which
// URLs a list update offers it; the store's disabling is tested in
// disabler_test.go.
type recordingDisabler struct {
	mu      sync.Mutex
	matched map[string]bool // of the URLs offered, which the match took
	reasons []string
	offered []string
}

func (d *recordingDisabler) DisableMatching(_ context.Context, match func(string) bool, reason string) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, u := range d.offered {
		if match(u) {
			d.matched[u] = true
			n++
		}
	}
	d.reasons = append(d.reasons, reason)
	return n, nil
}

func (d *recordingDisabler) DisableLink(context.Context, link.Code, string, string) (bool, error) {
	return false, nil
}

// TestListUpdateDisablesNewlyCoveredLinks: when a list file gains an
// entry while the server runs, the links it newly covers, and only those,
// are handed to the disabler, with the list's name as the reason.
func TestListUpdateDisablesNewlyCoveredLinks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.txt")
	if err := os.WriteFile(path, []byte("old.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Blocklists = []string{path}
	s, err := newScreening(cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &recordingDisabler{matched: map[string]bool{}, offered: []string{
		"https://old.example/a", "https://new.example/b", "https://www.new.example/c", "https://fine.example/",
	}}
	s.disabler = d
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var workers sync.WaitGroup
	for _, run := range s.workers() {
		workers.Go(func() { run(ctx) })
	}
	if err := os.WriteFile(path, []byte("old.example\nnew.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		d.mu.Lock()
		n := len(d.reasons)
		d.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no disabling after the list changed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	workers.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	want := map[string]bool{"https://new.example/b": true, "https://www.new.example/c": true}
	if len(d.matched) != len(want) || !d.matched["https://new.example/b"] || !d.matched["https://www.new.example/c"] {
		t.Errorf("disabled %v, want %v (old entries and other hosts stay)", d.matched, want)
	}
	if d.reasons[0] != `on the blocklist local` {
		t.Errorf("reason %q", d.reasons[0])
	}
}
