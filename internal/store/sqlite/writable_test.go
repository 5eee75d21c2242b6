package sqlite_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/store/sqlite"
)

// immutable makes path unwritable even for root (chattr +i) until the test
// ends, or skips the test where that is not allowed.
func immutable(t *testing.T, path string) (undo func()) {
	t.Helper()
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("chattr +i %s: %v %s (needs root and CAP_LINUX_IMMUTABLE)", path, err, out)
	}
	undo = func() { exec.Command("chattr", "-i", path).Run() }
	t.Cleanup(undo)
	return undo
}

func migrated(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "links.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	return path
}

// TestOpenReadOnly: a database that cannot be written fails Open with a
// message that names the file and says what to do, leaves no -wal or
// -shm behind, and opens once it is writable again.
func TestOpenReadOnly(t *testing.T) {
	path := migrated(t)
	undo := immutable(t, path)
	_, err := sqlite.Open(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not writable") || !strings.Contains(err.Error(), "make it writable") {
		t.Fatalf("Open of a read-only file: %v", err)
	}
	for _, f := range []string{path + "-wal", path + "-shm"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s left behind", filepath.Base(f))
		}
	}
	undo()
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open once writable: %v", err)
	}
	defer db.Close()
	if err := db.WriteProbe(t.Context()); err != nil {
		t.Fatalf("WriteProbe once writable: %v", err)
	}
}

// TestOpenStaleShm: a -shm file the server cannot write (left by a run as
// another user) is named, with what to do.
func TestOpenStaleShm(t *testing.T) {
	path := migrated(t)
	if err := os.WriteFile(path+"-shm", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	immutable(t, path+"-shm")
	_, err := sqlite.Open(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), path+"-shm") || !strings.Contains(err.Error(), "another user") {
		t.Fatalf("Open with a stale -shm: %v", err)
	}
}

// TestWriteProbeDiskFull fills a small file system: the probe fails while
// it is full, reads still work, and the probe passes once there is room.
func TestWriteProbeDiskFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s (needs CAP_SYS_ADMIN)", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	path := filepath.Join(dir, "links.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := db.WriteProbe(t.Context()); err != nil {
		t.Fatalf("probe with room: %v", err)
	}
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			break // full
		}
	}
	f.Close()
	// A page of settings rewritten over and over fits in pages the WAL
	// already has; many writes need new ones.
	var probeErr error
	for range 200 {
		if probeErr = db.WriteProbe(t.Context()); probeErr != nil {
			break
		}
	}
	if probeErr == nil {
		t.Fatal("the write probe passed on a full disk")
	} else {
		t.Logf("probe on a full disk: %v", probeErr)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("reads fail on a full disk too: %v", err)
	}
	os.Remove(filler)
	if err := db.WriteProbe(t.Context()); err != nil {
		t.Errorf("probe once there is room again: %v", err)
	}
}
