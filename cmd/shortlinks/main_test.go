package main_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/servicetest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shortlinks-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "shortlinks")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `shortlinks serve` process.
type server struct {
	cmd  *exec.Cmd
	addr string
	logs *servicetest.Buffer
	done chan struct{} // closed when the process has exited
	err  error         // the exit status, once done is closed
}

func startServer(t *testing.T, db string, args ...string) *server {
	t.Helper()
	addr := servicetest.FreeAddr(t)
	s := &server{addr: addr, logs: &servicetest.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(binary, append([]string{"serve", "--listen", addr, "--database-url", "sqlite:" + db,
		"--rate-limit-create", "0", "--log-requests", "errors"}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("server exited: %v\n%s", s.err, s.logs)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("server did not become healthy:\n%s", s.logs)
	return nil
}

var noRedirect = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// TestKill9KeepsAcknowledgedLinks kills the server at random moments while
// clients create links, and checks that every create answered 201 survives.
func TestKill9KeepsAcknowledgedLinks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	db := filepath.Join(t.TempDir(), "links.db")
	acked := map[string]string{} // code -> URL
	var mu sync.Mutex
	for round := range 3 {
		s := startServer(t, db)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					u := fmt.Sprintf("https://example.com/r%d/w%d/%d", round, w, i)
					body := `{"url": "` + u + `"}`
					if i%5 == 0 {
						body = fmt.Sprintf(`{"url": %q, "alias": "r%d-w%d-%d"}`, u, round, w, i)
					}
					resp, err := noRedirect.Post("http://"+s.addr+"/api/v1/links", "application/json", strings.NewReader(body))
					if err != nil {
						continue // the server died mid-request: not acknowledged
					}
					var l struct{ Code, URL string }
					err = json.NewDecoder(resp.Body).Decode(&l)
					resp.Body.Close()
					if resp.StatusCode == http.StatusCreated && err == nil {
						mu.Lock()
						acked[l.Code] = u
						mu.Unlock()
					}
				}
			})
		}
		time.Sleep(time.Duration(200+rand.IntN(600)) * time.Millisecond)
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.done
		close(stop)
		wg.Wait()
	}
	if len(acked) < 50 {
		t.Fatalf("only %d creates were acknowledged; the test proves little", len(acked))
	}

	s := startServer(t, db)
	for code, want := range acked {
		resp, err := noRedirect.Get("http://" + s.addr + "/" + code)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
			t.Fatalf("acknowledged link %s: %d Location %q, want %q", code, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	// Codes handed out after the crashes are new.
	for range 20 {
		resp, err := noRedirect.Post("http://"+s.addr+"/api/v1/links", "application/json", strings.NewReader(`{"url": "https://example.com/after"}`))
		if err != nil {
			t.Fatal(err)
		}
		var l struct{ Code string }
		json.NewDecoder(resp.Body).Decode(&l)
		resp.Body.Close()
		if _, dup := acked[l.Code]; dup || resp.StatusCode != http.StatusCreated {
			t.Fatalf("create after restart: %d, code %q reissued=%t", resp.StatusCode, l.Code, dup)
		}
	}
	t.Logf("%d acknowledged links survived 3 kill -9s", len(acked))
}

// TestGracefulShutdown checks that SIGTERM lets a request in flight finish
// and the process exit cleanly.
func TestGracefulShutdown(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "links.db"))
	resp, err := noRedirect.Post("http://"+s.addr+"/api/v1/links", "application/json", strings.NewReader(`{"url": "https://example.com/"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if s.err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", s.err, s.logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop after SIGTERM")
	}
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(s.logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, s.logs)
		}
	}
}

// TestStartupLogMasksSecrets checks that serve logs its effective settings
// without secrets.
func TestStartupLogMasksSecrets(t *testing.T) {
	key := strings.Repeat("5e", 32)
	s := startServer(t, filepath.Join(t.TempDir(), "links.db"), "--code-key", key)
	logs := s.logs.String()
	if !strings.Contains(logs, `"msg":"starting"`) || !strings.Contains(logs, `"redirect-status":302`) {
		t.Fatalf("no effective configuration in the start log:\n%s", logs)
	}
	if strings.Contains(logs, key) {
		t.Fatal("code key appears in the logs")
	}
}
