// Package pgtest gives tests a PostgreSQL of their own: a fresh database on
// the server that SHORTLINKS_TEST_POSTGRES names, or whole servers (a
// primary and its streaming replicas) started in temporary directories, that
// a test may stop and start again. Everything is removed when the test ends.
// It is for tests only.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// Database creates an empty database with a random name on the server that
// SHORTLINKS_TEST_POSTGRES names and returns its URL. The database is
// dropped, connections and all, when the test ends. Without the variable the
// test is skipped, or fails when CI=true.
func Database(t testing.TB) string {
	t.Helper()
	admin := servicetest.Postgres(t)
	dsn := CreateDatabase(t, admin)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec1(ctx, admin, `DROP DATABASE IF EXISTS `+pgx.Identifier{DBName(dsn)}.Sanitize()+` WITH (FORCE)`); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return dsn
}

// CreateDatabase creates an empty database with a random name on the server
// that adminURL names and returns its URL. The caller drops it, or removes
// the whole server.
func CreateDatabase(t testing.TB, adminURL string) string {
	t.Helper()
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: %s must be a postgres:// URL", servicetest.PostgresVar)
	}
	name := "shortlinks_test_" + hex.EncodeToString(randomBytes(6))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := exec1(ctx, adminURL, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// DBName returns the name of the database that dsn, a URL, names.
func DBName(dsn string) string {
	u, _ := url.Parse(dsn)
	return strings.TrimPrefix(u.Path, "/")
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// exec1 runs one statement on a connection of its own.
func exec1(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// Cluster is a PostgreSQL server that a test started, listening on a free
// loopback port, with its data in a temporary directory. Its superuser is
// postgres, with trust authentication on loopback only.
type Cluster struct {
	t    testing.TB
	name string
	bin  string // directory of the server's programs
	dir  string // the cluster's files, owned by the server's user
	port int
	cred *syscall.Credential // the server's user, when the test runs as root

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartPrimary initialises a new cluster that accepts streaming replicas,
// starts it, and removes it when the test ends.
func StartPrimary(t testing.TB) *Cluster {
	t.Helper()
	c := newCluster(t, "primary")
	c.run("initdb", "--pgdata", c.data(), "--username", "postgres", "--auth", "trust",
		"--encoding", "UTF8", "--locale", "C", "--no-sync", "--no-instructions")
	c.Start(t)
	return c
}

// StartReplica makes a streaming replica of c from a base backup
// (pg_basebackup -R), starts it, and removes it when the test ends.
func (c *Cluster) StartReplica(t testing.TB) *Cluster {
	t.Helper()
	r := newCluster(t, "replica of "+c.name)
	r.run("pg_basebackup", "--host", "127.0.0.1", "--port", strconv.Itoa(c.port), "--username", "postgres",
		"--pgdata", r.data(), "--write-recovery-conf", "--wal-method", "stream", "--checkpoint", "fast", "--no-sync")
	r.Start(t)
	return r
}

func newCluster(t testing.TB, name string) *Cluster {
	t.Helper()
	c := &Cluster{t: t, name: name, bin: binDir(t), port: servicetest.FreePort(t)}
	dir, err := os.MkdirTemp("", "shortlinks-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			c.logTail(t)
		}
		os.RemoveAll(dir)
	})
	// initdb and postgres refuse to run as root: run them as postgres.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			if servicetest.CI() {
				t.Fatal("pgtest: tests run as root and there is no postgres user to run servers as")
			}
			t.Skip("pgtest: tests run as root and there is no postgres user to run servers as")
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, int(uid), int(gid)); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// binDir finds the directory holding postgres, initdb and pg_basebackup.
func binDir(t testing.TB) string {
	t.Helper()
	var dirs []string
	if p, err := exec.LookPath("postgres"); err == nil {
		if p, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	// Debian keeps the server's programs off PATH.
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(found, func(a, b string) int { return version(b) - version(a) })
	dirs = append(dirs, found...)
	for _, d := range dirs {
		if isFile(filepath.Join(d, "postgres")) && isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "pg_basebackup")) {
			return d
		}
	}
	// Nothing found: skip, or fail in CI, saying what is missing.
	servicetest.Binary(t, "postgres")
	t.Fatalf("pgtest: found postgres but not initdb and pg_basebackup beside it (looked in %v)", dirs)
	return ""
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }
func (c *Cluster) logFile() string {
	return filepath.Join(c.dir, "server.log")
}

// Port is the loopback port the server listens on.
func (c *Cluster) Port() int { return c.port }

// URL returns the URL of database on this server.
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, database)
}

// Database creates an empty database with a random name on this server and
// returns its URL. It goes when the cluster does.
func (c *Cluster) Database(t testing.TB) string {
	t.Helper()
	return CreateDatabase(t, c.URL("postgres"))
}

// run runs one of the server's programs as the server's user and fails the
// test with its output if it fails.
func (c *Cluster) run(name string, args ...string) {
	c.t.Helper()
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("pgtest: %s: %v\n%s", name, err, out)
	}
}

// Start starts the server, again after Stop, on its port and waits until it
// accepts connections.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		t.Fatalf("pgtest: %s is already running", c.name)
	}
	settings := []string{
		"listen_addresses=127.0.0.1",
		"unix_socket_directories=", // TCP only: nothing shared with the machine's own server
		"max_connections=60",
		"shared_buffers=32MB",
		"fsync=off", // a test's data need not survive the machine
		"full_page_writes=off",
		"wal_level=replica",
		"max_wal_senders=4",
		"wal_keep_size=256MB", // a replica cut off for a while can catch up
		"hot_standby=on",
		"wal_retrieve_retry_interval=200ms", // a replica reconnects quickly
		"logging_collector=off",
	}
	args := []string{"-D", c.data(), "-p", strconv.Itoa(c.port)}
	for _, s := range settings {
		args = append(args, "-c", s)
	}
	log, err := os.OpenFile(c.logFile(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdout, cmd.Stderr = log, log
	// If the test process dies without cleaning up, the server gets
	// SIGQUIT (immediate shutdown) and does not outlive it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGQUIT}
	exited := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		// The parent-death signal follows the thread that started the
		// process, not the process: hold this thread until the server exits.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		t.Fatalf("pgtest: start %s: %v", c.name, err)
	}
	c.cmd, c.exited = cmd, exited

	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return
		}
		select {
		case <-exited:
			c.cmd = nil
			c.logTail(t)
			t.Fatalf("pgtest: %s exited while starting", c.name)
		default:
		}
		if time.Now().After(deadline) {
			c.logTail(t)
			t.Fatalf("pgtest: %s did not accept connections within a minute: %v", c.name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down the way an operator would (fast shutdown:
// sessions are ended, the data is checkpointed) and waits until it has
// exited. Clients see their connections closed.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	c.stop(syscall.SIGINT, 60*time.Second)
}

// kill ends the server at once, if it runs.
func (c *Cluster) kill() { c.stop(syscall.SIGQUIT, 30*time.Second) }

func (c *Cluster) stop(sig syscall.Signal, wait time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(sig)
	select {
	case <-c.exited:
	case <-time.After(wait):
		c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
}

func (c *Cluster) logTail(t testing.TB) {
	b, _ := os.ReadFile(c.logFile())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	t.Logf("pgtest: end of the %s's log:\n%s", c.name, b)
}

// Conn opens a connection to database on this server, closed when the test
// ends.
func (c *Cluster) Conn(t testing.TB, database string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(database))
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", c.name, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// WaitReplayed waits until replica has replayed everything written on c so
// far, failing the test after 30 seconds.
func (c *Cluster) WaitReplayed(t testing.TB, replica *Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var lsn string
	if err := c.Conn(t, "postgres").QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		t.Fatalf("pgtest: primary's WAL position: %v", err)
	}
	r := replica.Conn(t, "postgres")
	for {
		var done bool
		err := r.QueryRow(ctx, `SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)`, lsn).Scan(&done)
		if err != nil {
			t.Fatalf("pgtest: replica's replay position: %v", err)
		}
		if done {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pgtest: the replica did not replay up to %s within 30s", lsn)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
