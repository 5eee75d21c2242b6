package failover

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// dbTimeout is the instances' --database-timeout. A create makes at most
// two bounded database calls (reserving ids, then inserting), so no create
// may take longer than createBound, failed or not.
const (
	dbTimeout   = 2 * time.Second
	createBound = 2*dbTimeout + time.Second
)

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// TestMain removes the binary built for the suites.
func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// binary builds the shortlinks command once for all the suites.
func binary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "shortlinks-ha-bin-")
		if build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "shortlinks")
		out, err := exec.Command("go", "build", "-o", build.bin, "github.com/shortlinks/shortlinks/cmd/shortlinks").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// instance is a running shortlinks serve.
type instance struct {
	name string
	base string
	proc *proc
}

// newCodeKey returns a code key for the instances, so that the test can
// turn codes back into ids.
func newCodeKey() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// startInstances runs n instances of shortlinks serve with the given
// settings added, and waits until each is ready.
func startInstances(t *testing.T, n int, args ...string) []*instance {
	t.Helper()
	bin := binary(t)
	dir := t.TempDir()
	var out []*instance
	for i := range n {
		port := servicetest.FreePort(t)
		base := "http://127.0.0.1:" + strconv.Itoa(port)
		in := &instance{name: fmt.Sprintf("i%d", i+1), base: base}
		a := append([]string{"serve", "--listen", "127.0.0.1:" + strconv.Itoa(port), "--base-url", base,
			"--log-level", "warn", "--log-requests", "errors", "--database-timeout", dbTimeout.String()}, args...)
		in.proc = start(t, "shortlinks "+in.name, filepath.Join(dir, in.name+".log"), nil, bin, a...)
		out = append(out, in)
	}
	for _, in := range out {
		err := waitFor(60*time.Second, func() error {
			if in.proc.exited() {
				return fmt.Errorf("exited")
			}
			resp, err := http.Get(in.base + "/readyz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("readyz: %s", resp.Status)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("instance %s not ready: %v\n%s", in.name, err, tail(in.proc.log))
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s's log:\n%s", in.name, tail(in.proc.log))
			}
		})
	}
	return out
}
