package failover

import (
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// haVar turns the suites on.
const haVar = "SHORTLINKS_TEST_HA"

// requireHA skips the test unless the HA suites were asked for. Unlike the
// service variables it is not required in CI: CI runs the suites on their
// own, through make test-ha, after the rest.
func requireHA(t *testing.T) {
	t.Helper()
	if os.Getenv(haVar) != "1" {
		t.Skipf("set %s=1 (make test-ha) to run the failover suites; they start etcd, Patroni, PostgreSQL and Redis Sentinel and take minutes", haVar)
	}
}

// proc is a process the test started in a process group of its own, so
// that it and its children can be signalled together. It is killed when
// the test ends, whatever the outcome.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// start runs bin with args, its output appended to logPath, as the user
// cred names (nil: this process's user).
func start(t *testing.T, name, logPath string, cred *syscall.Credential, bin string, args ...string) *proc {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = filepath.Dir(logPath)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
	// Pdeathsig: the process dies with the test binary even if a timeout
	// panic skips the cleanups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	return p
}

// signal sends sig to the process's whole group.
func (p *proc) signal(sig syscall.Signal) error {
	return syscall.Kill(-p.cmd.Process.Pid, sig)
}

// kill ends the process group at once, stopped or not, and waits for the
// process.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
	p.signal(syscall.SIGCONT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// killGroupOf kills the process group of pid, for processes that left the
// test's groups (PostgreSQL, which Patroni starts in a session of its own).
func killGroupOf(pid int) {
	if pgid, err := syscall.Getpgid(pid); err == nil && pgid > 1 {
		syscall.Kill(-pgid, syscall.SIGKILL)
		syscall.Kill(-pgid, syscall.SIGCONT)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// family returns pid and every process whose parent it is. PostgreSQL
// puts each of its children in a session of its own, so a process group
// does not reach them.
func family(pid int) []int {
	out := []int{pid}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// serverUser returns the user to run PostgreSQL as: postgres refuses to
// run as root. Nil when the test is not root.
func serverUser(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		if servicetest.CI() {
			t.Fatal("tests run as root and there is no postgres user to run PostgreSQL as")
		}
		t.Skip("tests run as root and there is no postgres user to run PostgreSQL as")
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// tempDir makes a directory that cred's user owns and the test removes at
// its end. t.TempDir's parent is private to this user, so a server running
// as another user could not reach it.
func tempDir(t *testing.T, cred *syscall.Credential) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "shortlinks-ha-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// waitFor calls check every 100ms until it returns nil or limit passes.
func waitFor(limit time.Duration, check func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var errNotYet = errors.New("not yet")
