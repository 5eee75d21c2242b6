// Package redistest runs real Redis servers for tests: single servers that a
// test may stop, pause and restart on the same port, a three-node cluster,
// and a master watched by a sentinel, all on free loopback ports and all
// torn down when the test ends. Prefix gives a test its own key prefix on a
// shared Redis and deletes its keys afterwards. Only tests import it.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shortlinks/shortlinks/internal/redisconn"
	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// startTimeout bounds how long a server may take to answer.
const startTimeout = 10 * time.Second

// Server is a redis-server process of the test's own.
type Server struct {
	t    testing.TB
	bin  string
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
}

// Start runs redis-server on a free loopback port, keeping nothing on disk,
// with extra arguments added, and waits until it answers. It skips the test
// (fails it in CI) when redis-server is not installed.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	s := &Server{t: t, bin: servicetest.Binary(t, "redis-server"), port: servicetest.FreePort(t), dir: t.TempDir()}
	s.args = append([]string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--daemonize", "no", "--enable-debug-command", "local",
	}, extra...)
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	logf, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	s.cmd = exec.Command(s.bin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	if err := waitPing(s.Addr()); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
		s.t.Fatalf("redis-server on %s did not answer: %v\n%s", s.Addr(), err, log)
	}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is a redis:// URL for the server's database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Stop kills the server at once, as a crash would. Stopping a stopped
// server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Pause freezes the server (SIGSTOP): connections stay open but nothing is
// answered, as with a server that hangs.
func (s *Server) Pause() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatal(err)
	}
}

// Resume lets a paused server go on.
func (s *Server) Resume() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		s.t.Fatal(err)
	}
}

// Cluster starts a three-node Redis Cluster with every slot assigned and
// returns its redis-cluster:// URL.
func Cluster(t testing.TB) string {
	t.Helper()
	cli := servicetest.Binary(t, "redis-cli")
	var addrs []string
	for range 3 {
		dir := t.TempDir()
		s := Start(t, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-port", strconv.Itoa(servicetest.FreePort(t)), "--cluster-node-timeout", "5000")
		addrs = append(addrs, s.Addr())
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		for {
			info, err := c.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				t.Fatalf("cluster node %s not ok: %v %s", a, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	return "redis-cluster://" + strings.Join(addrs, ",")
}

// Sentinel starts a master and one sentinel watching it as "mymaster", and
// returns the redis-sentinel:// URL that reaches the master through it.
func Sentinel(t testing.TB) string {
	t.Helper()
	master := Start(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	port := servicetest.FreePort(t)
	text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster 127.0.0.1 %d 1\nsentinel down-after-milliseconds mymaster 5000\n",
		port, dir, master.port)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, bin: master.bin, port: port, dir: dir, args: []string{conf, "--sentinel"}}
	s.start()
	t.Cleanup(s.Stop)

	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr()})
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		addr, err := c.GetMasterAddrByName(context.Background(), "mymaster").Result()
		if err == nil && len(addr) == 2 && addr[1] == strconv.Itoa(master.port) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sentinel does not know the master: %v %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "redis-sentinel://" + s.Addr() + "/mymaster"
}

// Prefix returns a key prefix of the test's own and, when the test ends,
// deletes every key under it in the Redis at url, rate-limit keys (which
// redis_rate puts under "rate:") included.
func Prefix(t testing.TB, url string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	prefix := "test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		o, err := redisconn.Parse(url)
		if err != nil {
			t.Errorf("prefix cleanup: %v", err)
			return
		}
		c := redis.NewUniversalClient(o)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		del := func(ctx context.Context, node *redis.Client) error {
			for _, pattern := range []string{prefix + "*", "rate:" + prefix + "*"} {
				iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
				for iter.Next(ctx) {
					if err := node.Del(ctx, iter.Val()).Err(); err != nil {
						return err
					}
				}
				if err := iter.Err(); err != nil {
					return err
				}
			}
			return nil
		}
		switch c := c.(type) {
		case *redis.ClusterClient:
			err = c.ForEachMaster(ctx, del)
		case *redis.Client:
			err = del(ctx, c)
		}
		if err != nil {
			t.Logf("prefix cleanup of %s: %v", prefix, err)
		}
	})
	return prefix
}

func waitPing(addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
