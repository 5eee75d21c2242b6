// Package e2etest runs the shortlinks binary as operators do, for the
// end-to-end suites: it builds the command, starts servers and one-off
// commands as processes of their own on loopback, and talks to them over
// HTTP. It is for tests only.
package e2etest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// Build compiles the shortlinks command from the module at dir (""; this
// module) into a binary under out and returns its path.
func Build(t testing.TB, dir, out string) string {
	t.Helper()
	bin := filepath.Join(out, "shortlinks")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/shortlinks")
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = ModuleRoot(t)
	}
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build in %s: %v\n%s", cmd.Dir, err, b)
	}
	return bin
}

var built struct {
	once sync.Once
	dir  string
	bin  string
}

// Binary returns the shortlinks command built from this tree, built once
// per test binary; Cleanup removes it.
func Binary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		d, err := os.MkdirTemp("", "shortlinks-e2e-bin-")
		if err != nil {
			t.Fatal(err)
		}
		built.dir = d
		built.bin = Build(t, "", d)
	})
	if built.bin == "" {
		t.Fatal("the shortlinks binary failed to build earlier")
	}
	return built.bin
}

// Cleanup removes what Binary built; call it from TestMain.
func Cleanup() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// ModuleRoot returns the directory holding this module's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// Run runs a one-off command of bin (backup, restore, migrate) and returns
// its output and how it ended.
func Run(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// Server is a running shortlinks serve.
type Server struct {
	Base string // http://127.0.0.1:PORT
	Log  *servicetest.Buffer
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs bin serve on a free loopback port (--listen, --base-url) with
// args added, and waits until it is ready. It is stopped when the test
// ends.
func Start(t testing.TB, bin string, args ...string) *Server {
	t.Helper()
	port := servicetest.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	s := &Server{Base: base, Log: new(servicetest.Buffer), done: make(chan struct{})}
	a := append([]string{"serve", "--listen", "127.0.0.1:" + strconv.Itoa(port), "--base-url", base}, args...)
	s.cmd = exec.Command(bin, a...)
	s.cmd.Stdout, s.cmd.Stderr = s.Log, s.Log
	// Pdeathsig: the server dies with the test even if a timeout skips
	// the cleanups.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("log of the server at %s:\n%s", base, s.Log.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("shortlinks serve exited: %v\n%s", s.cmd.ProcessState, s.Log.String())
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("shortlinks serve not ready after 60s: %v\n%s", err, s.Log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Signal sends sig to the server.
func (s *Server) Signal(sig os.Signal) error { return s.cmd.Process.Signal(sig) }

// Stop stops the server with SIGTERM and waits for it, killing it after 20s.
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Client is an HTTP client that does not follow redirects, with a bound.
var Client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Create shortens u and returns the code, or an error saying what the
// server answered instead of 201.
func (s *Server) Create(u string) (string, error) {
	body, _ := json.Marshal(map[string]string{"url": u})
	resp, err := Client.Post(s.Base+"/api/v1/links", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create %s: %s: %s", u, resp.Status, b)
	}
	var l struct{ Code string }
	if err := json.Unmarshal(b, &l); err != nil || l.Code == "" {
		return "", fmt.Errorf("create %s: answer %s: %v", u, b, err)
	}
	return l.Code, nil
}

// Get asks for /code without following the redirect.
func (s *Server) Get(code string) (*http.Response, error) {
	resp, err := Client.Get(s.Base + "/" + code)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// Redirects reports whether /code redirects to want.
func (s *Server) Redirects(code, want string) error {
	resp, err := s.Get(code)
	if err != nil {
		return err
	}
	if resp.StatusCode < 300 || resp.StatusCode > 399 || resp.Header.Get("Location") != want {
		return fmt.Errorf("GET /%s: %s to %q, want a redirect to %q", code, resp.Status, resp.Header.Get("Location"), want)
	}
	return nil
}

// Metric returns the value of the unlabelled sample name on /metrics.
func (s *Server) Metric(name string) (float64, error) {
	resp, err := Client.Get(s.Base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, errors.New("no sample " + name + " on /metrics")
}
