package apptest

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// Binary builds cmd/shortlinks into a temporary directory of the test and
// returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	gobin := servicetest.Binary(t, "go")
	bin := filepath.Join(t.TempDir(), "shortlinks")
	start := time.Now()
	cmd := exec.Command(gobin, "build", "-o", bin, "github.com/shortlinks/shortlinks/cmd/shortlinks")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built shortlinks in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

// Process is a running program that serves HTTP: `shortlinks serve`, or
// another server in front of or beside it.
type Process struct {
	URL    string // its base URL
	Logs   servicetest.Buffer
	Cmd    *exec.Cmd
	Exited chan struct{} // closed once it has exited
}

// StartServe starts `shortlinks serve` with args on a free loopback port.
// It stops the process when the test ends and shows its log if the test
// failed. Use WaitReady before sending it requests.
func StartServe(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	addr := servicetest.FreeAddr(t)
	cmd := exec.Command(bin, append([]string{"serve", "--listen", addr}, args...)...)
	// The server dies with the test process even if cleanup never runs.
	return StartProcess(t, "serve at "+addr, "http://"+addr, cmd, syscall.SIGKILL)
}

// StartProcess starts cmd, which serves HTTP at url. It is sent deathSig
// if the test process dies, and SIGTERM (then SIGKILL after 20 s) when the
// test ends; its output is shown if the test failed.
func StartProcess(t testing.TB, what, url string, cmd *exec.Cmd, deathSig syscall.Signal) *Process {
	t.Helper()
	p := &Process{URL: url, Cmd: cmd, Exited: make(chan struct{})}
	p.Cmd.Stdout, p.Cmd.Stderr = &p.Logs, &p.Logs
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: deathSig}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal follows the thread that started the
		// process: keep this one until the process exits.
		runtime.LockOSThread()
		if err := p.Cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.Cmd.Wait()
		close(p.Exited)
	}()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.Exited:
		case <-time.After(20 * time.Second):
			p.Cmd.Process.Kill()
			<-p.Exited
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", what, p.Logs.String())
		}
	})
	return p
}

// WaitReady waits until the process answers /readyz with 200, failing the
// test if it exits first or is not ready within a minute.
func (p *Process) WaitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := NoRedirects.Get(p.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.Exited:
			t.Fatalf("%s exited while starting:\n%s", p.URL, p.Logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not ready within a minute:\n%s", p.URL, p.Logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
