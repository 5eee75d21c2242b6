// Package liveconfig changes every live setting of a running shortlinks
// serve, through its config file, SIGHUP and etcd, and sees the effect over
// HTTP and in its log.
package liveconfig

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/shortlinks/shortlinks/e2e/e2etest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	e2etest.Cleanup()
	os.Exit(code)
}

// live is a server under test and a way to change its settings.
type live struct {
	t    *testing.T
	srv  *e2etest.Server
	code string // a link to redirect through
	set  func(settings map[string]string)
}

// base is the configuration the tests start from and change one setting
// of at a time.
var base = map[string]string{
	"redirect-status":         "302",
	"cache-control":           "private, max-age=90",
	"rate-limit-create":       "0",
	"rate-limit-create-burst": "20",
	"log-level":               "info",
	"log-requests":            "none",
	"log-redirect-sample":     "0",
}

func with(changes ...string) map[string]string {
	m := make(map[string]string, len(base))
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(changes); i += 2 {
		m[changes[i]] = changes[i+1]
	}
	return m
}

func (l *live) metric(name string) float64 {
	l.t.Helper()
	v, err := l.srv.Metric(name)
	if err != nil {
		l.t.Fatal(err)
	}
	return v
}

// apply sets settings and waits until the server has applied them.
func (l *live) apply(settings map[string]string) {
	l.t.Helper()
	g := l.metric("shortlinks_config_generation")
	l.set(settings)
	servicetest.Eventually(l.t, 10*time.Second, "reload applied", func() error {
		if now := l.metric("shortlinks_config_generation"); now <= g {
			return fmt.Errorf("shortlinks_config_generation still %v", now)
		}
		return nil
	})
}

func (l *live) redirectIs(status int, cacheControl string) error {
	resp, err := l.srv.Get(l.code)
	if err != nil {
		return err
	}
	if resp.StatusCode != status || resp.Header.Get("Cache-Control") != cacheControl {
		return fmt.Errorf("GET /%s: %d with Cache-Control %q, want %d with %q", l.code, resp.StatusCode, resp.Header.Get("Cache-Control"), status, cacheControl)
	}
	return nil
}

// creates returns how many of n creates in a row succeed before the first
// 429.
func (l *live) creates(n int) int {
	l.t.Helper()
	for i := range n {
		if _, err := l.srv.Create(fmt.Sprintf("https://example.com/burst/%d/%d", time.Now().UnixNano(), i)); err != nil {
			if !strings.Contains(err.Error(), "429") {
				l.t.Fatal(err)
			}
			return i
		}
	}
	return n
}

// logged reports whether a request for path, made now, shows in the
// access log. The line is written just after the response, so a missing
// one is looked for a while: briefly when it should not be there, longer
// when it should, so that a loaded machine does not fail the test.
func (l *live) logged(path string, want bool) bool {
	l.t.Helper()
	before := len(l.srv.Log.String())
	resp, err := e2etest.Client.Get(l.srv.Base + path)
	if err != nil {
		l.t.Fatal(err)
	}
	resp.Body.Close()
	wait := 300 * time.Millisecond
	if want {
		wait = 5 * time.Second
	}
	for deadline := time.Now().Add(wait); ; time.Sleep(20 * time.Millisecond) {
		if strings.Contains(l.srv.Log.String()[before:], `"path":"`+path+`"`) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// checkEveryLiveSetting changes each live setting in turn and sees it
// take effect.
func checkEveryLiveSetting(t *testing.T, l *live) {
	if err := l.redirectIs(302, "private, max-age=90"); err != nil {
		t.Fatal(err)
	}

	t.Run("redirect status and Cache-Control", func(t *testing.T) {
		l.t = t
		l.apply(with("redirect-status", "301", "cache-control", "public, max-age=300"))
		if err := l.redirectIs(301, "public, max-age=300"); err != nil {
			t.Fatal(err)
		}
		l.apply(with("cache-control", ""))
		if err := l.redirectIs(302, ""); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		l.t = t
		if n := l.creates(8); n != 8 {
			t.Fatalf("without a limit %d of 8 creates passed", n)
		}
		l.apply(with("rate-limit-create", "0.001", "rate-limit-create-burst", "3"))
		if n := l.creates(8); n != 3 {
			t.Fatalf("with a burst of 3, %d creates passed before a 429", n)
		}
		l.apply(with("rate-limit-create", "0.001", "rate-limit-create-burst", "5"))
		if n := l.creates(8); n != 5 {
			t.Fatalf("with a burst of 5, %d creates passed before a 429", n)
		}
		l.apply(with())
		if n := l.creates(8); n != 8 {
			t.Fatalf("with the limit off again, %d of 8 creates passed", n)
		}
	})
	t.Run("which requests are logged", func(t *testing.T) {
		l.t = t
		if l.logged("/no-such-code-1", false) {
			t.Fatal("a request was logged with log-requests none")
		}
		l.apply(with("log-requests", "all"))
		if !l.logged("/no-such-code-2", true) {
			t.Fatal("a request was not logged with log-requests all")
		}
		l.apply(with("log-requests", "api", "log-redirect-sample", "1"))
		if !l.logged("/"+l.code, true) {
			t.Fatal("a redirect was not logged with log-redirect-sample 1")
		}
		l.apply(with("log-requests", "api", "log-redirect-sample", "0"))
		if l.logged("/"+l.code, false) {
			t.Fatal("a redirect was logged with log-redirect-sample 0")
		}
	})
	t.Run("log level", func(t *testing.T) {
		l.t = t
		// Access lines are logged at info: at warn, none shows.
		l.apply(with("log-requests", "all", "log-level", "warn"))
		if l.logged("/no-such-code-3", false) {
			t.Fatal("an info line was logged at log-level warn")
		}
		l.apply(with("log-requests", "all", "log-level", "info"))
		if !l.logged("/no-such-code-4", true) {
			t.Fatal("an info line was not logged at log-level info")
		}
	})
	t.Run("a setting that is not live", func(t *testing.T) {
		l.t = t
		l.apply(with("log-requests", "errors"))
		l.apply(with())
		g := l.metric("shortlinks_config_generation")
		l.set(with("cache-size", "1234"))
		servicetest.Eventually(t, 10*time.Second, "restart reported", func() error {
			for _, line := range strings.Split(l.srv.Log.String(), "\n") {
				if strings.Contains(line, `"msg":"setting changed; needs a restart"`) && strings.Contains(line, `"setting":"cache-size"`) {
					return nil
				}
			}
			return errors.New("no 'needs a restart' line for cache-size in the log")
		})
		if v := l.metric("shortlinks_config_restart_pending"); v != 1 {
			t.Errorf("shortlinks_config_restart_pending = %v, want 1", v)
		}
		if now := l.metric("shortlinks_config_generation"); now != g {
			t.Errorf("shortlinks_config_generation went from %v to %v on a change that needs a restart", g, now)
		}
	})
	t.Run("an invalid value changes nothing", func(t *testing.T) {
		l.t = t
		l.apply(with("redirect-status", "307"))
		errs := l.metric("shortlinks_config_reload_errors_total")
		l.set(with("redirect-status", "303"))
		servicetest.Eventually(t, 10*time.Second, "reload refused", func() error {
			if now := l.metric("shortlinks_config_reload_errors_total"); now <= errs {
				return fmt.Errorf("shortlinks_config_reload_errors_total still %v", now)
			}
			return nil
		})
		if err := l.redirectIs(307, "private, max-age=90"); err != nil {
			t.Fatal(err)
		}
		l.apply(with())
	})
}

func yamlOf(settings map[string]string) []byte {
	var b strings.Builder
	for k, v := range settings {
		fmt.Fprintf(&b, "%s: %q\n", k, v)
	}
	return []byte(b.String())
}

// writeFile replaces path's contents in one rename, as editors and
// configuration tools do.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func startWithFile(t *testing.T) (*live, string) {
	dir := t.TempDir()
	file := filepath.Join(dir, "shortlinks.yaml")
	writeFile(t, file, yamlOf(base))
	srv := e2etest.Start(t, e2etest.Binary(t), "--config", file, "--database-url", "sqlite:"+filepath.Join(dir, "links.db"))
	code, err := srv.Create("https://example.com/live")
	if err != nil {
		t.Fatal(err)
	}
	return &live{t: t, srv: srv, code: code, set: func(s map[string]string) { writeFile(t, file, yamlOf(s)) }}, file
}

func TestLiveSettingsFromTheFile(t *testing.T) {
	l, _ := startWithFile(t)
	if g := l.metric("shortlinks_config_generation"); g != 1 {
		t.Fatalf("shortlinks_config_generation at start = %v, want 1", g)
	}
	checkEveryLiveSetting(t, l)
}

// SIGHUP reloads a file whose change the periodic check cannot see (same
// size, same modification time), as when a tool rewrites it in place.
func TestSIGHUPReloads(t *testing.T) {
	l, file := startWithFile(t)
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	next := yamlOf(with("redirect-status", "308"))
	if len(next) != len(yamlOf(base)) {
		t.Fatal("the two files differ in size")
	}
	if err := os.WriteFile(file, next, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // more than two checks of the file
	if err := l.redirectIs(302, "private, max-age=90"); err != nil {
		t.Fatalf("before SIGHUP: %v", err)
	}
	if err := l.srv.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	servicetest.Eventually(t, 10*time.Second, "SIGHUP applied", func() error { return l.redirectIs(308, "private, max-age=90") })
	// The log comes through a pipe from the server's process: wait for it.
	servicetest.Eventually(t, 10*time.Second, "the reload logged as caused by the signal", func() error {
		if !strings.Contains(l.srv.Log.String(), `"cause":"signal hangup"`) {
			return errors.New("no reload with cause signal hangup in the log")
		}
		return nil
	})
}

// startEtcd runs a one-member etcd on loopback ports and returns its
// client URL and a function that stops it and starts it again on the same
// data. It is stopped when the test ends.
func startEtcd(t *testing.T) (string, func()) {
	t.Helper()
	bin := servicetest.Binary(t, "etcd") // Debian: etcd-server; required in CI
	dir := t.TempDir()
	client := fmt.Sprintf("http://127.0.0.1:%d", servicetest.FreePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", servicetest.FreePort(t))
	log := new(servicetest.Buffer)
	var stop func()
	run := func() {
		ctx, cancel := context.WithCancel(context.Background())
		cmd := execEtcd(ctx, bin, "--name", "e1", "--data-dir", filepath.Join(dir, "data"),
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", "e1="+peer, "--initial-cluster-state", "new",
			"--unsafe-no-fsync", "--log-level", "warn")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stop = func() { cancel(); cmd.Wait() }
		waitEtcd(t, client)
	}
	run()
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("etcd's log:\n%s", log.String())
		}
	})
	return client, func() { stop(); run() }
}

func waitEtcd(t *testing.T, client string) {
	t.Helper()
	servicetest.Eventually(t, 20*time.Second, "etcd healthy", func() error {
		resp, err := http.Get(client + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("etcd /health: %s", resp.Status)
		}
		return nil
	})
}

func TestLiveSettingsFromEtcd(t *testing.T) {
	endpoint, restartEtcd := startEtcd(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	const prefix = "/test/shortlinks/"
	put := func(settings map[string]string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		have, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		var ops []clientv3.Op
		for _, kv := range have.Kvs {
			if _, keep := settings[strings.TrimPrefix(string(kv.Key), prefix)]; !keep {
				ops = append(ops, clientv3.OpDelete(string(kv.Key)))
			}
		}
		for k, v := range settings {
			ops = append(ops, clientv3.OpPut(prefix+k, v))
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// What etcd holds at start wins over the flags.
	put(with("cache-control", "no-store"))

	dir := t.TempDir()
	srv := e2etest.Start(t, e2etest.Binary(t), "--config-etcd", endpoint, "--config-etcd-prefix", prefix,
		"--database-url", "sqlite:"+filepath.Join(dir, "links.db"),
		"--cache-control", "private, max-age=1", "--rate-limit-create", "7")
	code, err := srv.Create("https://example.com/live")
	if err != nil {
		t.Fatal(err)
	}
	l := &live{t: t, srv: srv, code: code, set: put}
	if err := l.redirectIs(302, "no-store"); err != nil {
		t.Fatalf("at start, with cache-control in etcd: %v", err)
	}
	l.apply(with())
	checkEveryLiveSetting(t, l)

	t.Run("a deleted key gives way to the flag", func(t *testing.T) {
		l.t = t
		l.apply(with("cache-control", "no-cache"))
		g := l.metric("shortlinks_config_generation")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := cli.Delete(ctx, prefix+"cache-control"); err != nil {
			t.Fatal(err)
		}
		servicetest.Eventually(t, 10*time.Second, "flag back", func() error { return l.redirectIs(302, "private, max-age=1") })
		if now := l.metric("shortlinks_config_generation"); now != g+1 {
			t.Errorf("shortlinks_config_generation %v after one change, want %v", now, g+1)
		}
	})
	t.Run("an unknown key is refused", func(t *testing.T) {
		l.t = t
		errs := l.metric("shortlinks_config_reload_errors_total")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := cli.Put(ctx, prefix+"redirect-stauts", "301"); err != nil {
			t.Fatal(err)
		}
		servicetest.Eventually(t, 10*time.Second, "reload refused", func() error {
			if now := l.metric("shortlinks_config_reload_errors_total"); now <= errs {
				return fmt.Errorf("shortlinks_config_reload_errors_total still %v", now)
			}
			return nil
		})
		servicetest.Eventually(t, 10*time.Second, "the unknown key named in the log", func() error {
			if !strings.Contains(srv.Log.String(), `unknown setting \"redirect-stauts\"`) {
				return errors.New("the log does not name the unknown key")
			}
			return nil
		})
	})
	t.Run("the watch survives etcd restarting", func(t *testing.T) {
		l.t = t
		restartEtcd()
		put(with("redirect-status", "301"))
		servicetest.Eventually(t, 20*time.Second, "change after the restart applied", func() error {
			return l.redirectIs(301, "private, max-age=90")
		})
	})
}
