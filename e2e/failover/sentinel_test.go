package failover

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/analytics/redisstream"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
)

// Sentinel's timing: a master that does not answer for a second is taken
// for down. Production keeps larger values (30s by default) for the same
// reason Patroni's are larger: fewer failovers on a slow network.
const (
	sentinelDownAfter = 1000 // ms
	sentinelFailover  = 5000 // ms
)

// redisSet is a master, its replica and three sentinels watching them as
// "mymaster".
type redisSet struct {
	master, replica *proc
	ports           map[*proc]int
	sentinels       []int
}

func startSentinels(t *testing.T) *redisSet {
	t.Helper()
	server := servicetest.Binary(t, "redis-server")
	servicetest.Binary(t, "redis-sentinel") // Debian's package; the same program in sentinel mode
	dir := t.TempDir()
	rs := &redisSet{ports: map[*proc]int{}}
	run := func(name string, args ...string) (*proc, int) {
		port := servicetest.FreePort(t)
		a := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--dbfilename", name + ".rdb"}, args...)
		p := start(t, name, filepath.Join(dir, name+".log"), nil, server, a...)
		if err := waitPing(port); err != nil {
			t.Fatalf("%s did not answer: %v\n%s", name, err, tail(p.log))
		}
		return p, port
	}
	var mport, rport int
	rs.master, mport = run("master")
	rs.replica, rport = run("replica", "--replicaof", "127.0.0.1", strconv.Itoa(mport))
	rs.ports[rs.master], rs.ports[rs.replica] = mport, rport
	for i := range 3 {
		port := servicetest.FreePort(t)
		conf := filepath.Join(dir, fmt.Sprintf("sentinel%d.conf", i+1))
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds mymaster %d\nsentinel failover-timeout mymaster %d\nsentinel parallel-syncs mymaster 1\n",
			port, dir, mport, sentinelDownAfter, sentinelFailover)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		p := start(t, fmt.Sprintf("sentinel%d", i+1), conf+".log", nil, server, conf, "--sentinel")
		if err := waitPing(port); err != nil {
			t.Fatalf("sentinel did not answer: %v\n%s", err, tail(p.log))
		}
		rs.sentinels = append(rs.sentinels, port)
	}
	// Ready when every sentinel knows the replica and the other sentinels.
	if err := waitFor(30*time.Second, func() error {
		for _, s := range rs.sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s)})
			defer c.Close()
			m, err := c.Master(context.Background(), "mymaster").Result()
			if err != nil {
				return err
			}
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("sentinel %d sees %s replicas and %s other sentinels", s, m["num-slaves"], m["num-other-sentinels"])
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("sentinels not ready: %v", err)
	}
	return rs
}

// URL reaches the master through the sentinels.
func (rs *redisSet) URL() string {
	addrs := make([]string, len(rs.sentinels))
	for i, p := range rs.sentinels {
		addrs[i] = "127.0.0.1:" + strconv.Itoa(p)
	}
	return "redis-sentinel://" + strings.Join(addrs, ",") + "/mymaster"
}

// masterPort asks the first sentinel that answers where the master is.
func (rs *redisSet) masterPort() (int, error) {
	var last error
	for _, s := range rs.sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s), DialTimeout: 200 * time.Millisecond})
		addr, err := c.GetMasterAddrByName(context.Background(), "mymaster").Result()
		c.Close()
		if err != nil {
			last = err
			continue
		}
		return strconv.Atoi(addr[1])
	}
	return 0, last
}

func waitPing(port int) error {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	return waitFor(10*time.Second, func() error { return c.Ping(context.Background()).Err() })
}

// metric reads one unlabelled sample from an instance's /metrics.
func metric(in *instance, name string) (float64, error) {
	resp, err := http.Get(in.base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s: no sample of %s", in.name, name)
}

func sum(ins []*instance, name string) float64 {
	var total float64
	for _, in := range ins {
		v, _ := metric(in, name)
		total += v
	}
	return total
}

// TestRedisSentinelFailover kills the Redis master under traffic and
// checks that redirects never fail, that rate limits fall back to each
// instance's own and return to Redis, and that the shared cache and its
// invalidations resume on the new master.
func TestRedisSentinelFailover(t *testing.T) {
	requireHA(t)
	dsn := pgtest.CreateDatabase(t, servicetest.Postgres(t))
	rs := startSentinels(t)

	// A key that may delete links, for the invalidation check.
	out, err := exec.Command(binary(t), "apikey", "create", "--name", "ha", "--admin", "--database-url", dsn, "--auto-migrate").CombinedOutput()
	if err != nil {
		t.Fatalf("apikey create: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	apiKey := strings.TrimSpace(lines[len(lines)-1])

	prefix := "ha:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	instances := startInstances(t, 2, "--database-url", dsn, "--redis-url", rs.URL(), "--redis-key-prefix", prefix,
		// Every client is 127.0.0.1: a limit the traffic stays under, so
		// that it is checked on every create without refusing any.
		"--rate-limit-create", "100000", "--rate-limit-create-burst", "100000")
	tr := startTraffic(instances)
	defer tr.stop()
	time.Sleep(3 * time.Second)

	// A link that the second instance holds in process.
	victim := tr.createWith(t, instances[0], apiKey)
	if r := tr.get(instances[1], victim); r.status != http.StatusFound {
		t.Fatalf("redirect of %s before the failover: %d %v", victim, r.status, r.err)
	}
	oldMaster := rs.ports[rs.master]
	fallbacksBefore := sum(instances, "shortlinks_ratelimit_fallbacks_total")

	t0 := time.Now()
	if err := rs.master.signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var promoted time.Duration
	if err := waitFor(60*time.Second, func() error {
		p, err := rs.masterPort()
		if err != nil {
			return err
		}
		if p == oldMaster {
			return errNotYet
		}
		promoted = time.Since(t0)
		return nil
	}); err != nil {
		t.Fatalf("no new master: %v", err)
	}
	// Back in use: both breakers closed and both instances subscribed again
	// (readiness requires the subscription).
	var resumed time.Duration
	if err := waitFor(60*time.Second, func() error {
		for _, in := range instances {
			if v, err := metric(in, "shortlinks_redis_breaker_state"); err != nil || v != 0 {
				return fmt.Errorf("%s: breaker state %v %v", in.name, v, err)
			}
			resp, err := http.Get(in.base + "/readyz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("%s: readyz %s", in.name, resp.Status)
			}
		}
		resumed = time.Since(t0)
		return nil
	}); err != nil {
		t.Fatalf("instances did not take up the new master: %v", err)
	}
	fallbacksDuring := sum(instances, "shortlinks_ratelimit_fallbacks_total") - fallbacksBefore

	// Rate limits are kept in Redis again: fallbacks stop, and the new
	// master holds the limiter's keys.
	time.Sleep(2 * time.Second)
	settled := sum(instances, "shortlinks_ratelimit_fallbacks_total")
	time.Sleep(3 * time.Second)
	if after := sum(instances, "shortlinks_ratelimit_fallbacks_total"); after != settled {
		t.Errorf("rate limits still fall back after the failover: %v more in 3s", after-settled)
	}
	newMaster, _ := rs.masterPort()
	nm := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(newMaster)})
	defer nm.Close()
	if keys, err := nm.Keys(context.Background(), "rate:"+prefix+"*").Result(); err != nil || len(keys) == 0 {
		t.Errorf("no rate-limit keys on the new master (%v)", err)
	}

	// The cache: the second instance caches the link again, the first
	// deletes it, and the invalidation must reach the second through the
	// new master, long before its in-process entry would expire (60s).
	if r := tr.get(instances[1], victim); r.status != http.StatusFound {
		t.Fatalf("redirect of %s after the failover: %d %v", victim, r.status, r.err)
	}
	req, _ := http.NewRequest("DELETE", instances[0].base+"/api/v1/links/"+victim, nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := tr.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete %s: %s", victim, resp.Status)
	}
	deleted := time.Now()
	var reached time.Duration
	if err := waitFor(5*time.Second, func() error {
		if r := tr.get(instances[1], victim); r.status == http.StatusFound {
			return errNotYet
		}
		reached = time.Since(deleted)
		return nil
	}); err != nil {
		t.Errorf("the delete did not reach the other instance: it still redirects %s", victim)
	}
	tr.stop()

	// The click-event stream: with the traffic stopped, redirects made now
	// must reach the stream on the new master. Every click they record has
	// a time after mark, which no click of the stopped traffic has.
	acked := tr.acknowledged()
	delete(acked, victim)
	var live string
	for c := range acked {
		live = c
		break
	}
	if live == "" {
		t.Fatal("no acknowledged link to redirect after the failover")
	}
	key := redisstream.Key(prefix, "")
	ctx := context.Background()
	lenBefore, err := nm.XLen(ctx, key).Result()
	if err != nil {
		t.Fatalf("XLEN %s on the new master: %v", key, err)
	}
	lastID := "0-0"
	if last, err := nm.XRevRangeN(ctx, key, "+", "-", 1).Result(); err == nil && len(last) == 1 {
		lastID = last[0].ID
	}
	mark := time.Now()
	const clicks = 10
	for i := range clicks {
		if r := tr.get(instances[i%len(instances)], live); r.status != http.StatusFound {
			t.Fatalf("redirect of %s after the failover: %d %v", live, r.status, r.err)
		}
	}
	var lenAfter int64
	var recorded int
	servicetest.Eventually(t, 15*time.Second, "clicks in the stream on the new master", func() error {
		entries, err := nm.XRange(ctx, key, "("+lastID, "+").Result()
		if err != nil {
			return err
		}
		recorded = 0
		for _, e := range entries {
			raw, _ := e.Values["b"].(string)
			b, err := analytics.Decode([]byte(raw))
			if err != nil {
				return fmt.Errorf("entry %s: %v", e.ID, err)
			}
			for _, ev := range b.Events {
				if ev.At >= mark.UnixNano() {
					recorded++
				}
			}
		}
		if lenAfter, err = nm.XLen(ctx, key).Result(); err != nil {
			return err
		}
		if lenAfter <= lenBefore || recorded < clicks {
			return fmt.Errorf("XLEN %s %d -> %d, %d of %d post-failover clicks in it", key, lenBefore, lenAfter, recorded, clicks)
		}
		return nil
	})

	f := tr.measure(t, "Redis master SIGKILL", http.StatusFound)
	f.Lost = lostIn(t, dsn, acked)
	f.Note = fmt.Sprintf("new master after %.1fs; both instances back on it after %.1fs; %v rate-limit checks fell back to local limits; a delete reached the other instance in %.2fs; the click stream on the new master went from %d to %d entries, holding all %d post-failover clicks",
		promoted.Seconds(), resumed.Seconds(), fallbacksDuring, reached.Seconds(), lenBefore, lenAfter, recorded)
	if f.RedirectsFailed != 0 {
		t.Errorf("%d redirects failed while Redis failed over", f.RedirectsFailed)
	}
	if f.CreatesFailed != 0 {
		t.Errorf("%d creates failed while Redis failed over; creates do not need Redis", f.CreatesFailed)
	}
	if f.Lost != 0 {
		t.Errorf("%d acknowledged creates are missing", f.Lost)
	}
	report(t, f)
}

// createWith creates a link with an API key and returns its code.
func (tr *traffic) createWith(t *testing.T, in *instance, key string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", in.base+"/api/v1/links", strings.NewReader(`{"url": "https://example.com/victim"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := tr.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Code string `json:"code"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create with a key: %s %v", resp.Status, err)
	}
	return out.Code
}

// lostIn counts acknowledged codes missing from the database at dsn.
func lostIn(t *testing.T, dsn string, acked map[string]int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	codes := make([]string, 0, len(acked))
	for c := range acked {
		codes = append(codes, c)
	}
	var found int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM links WHERE code = ANY($1) AND url IS NOT NULL`, codes).Scan(&found); err != nil {
		t.Fatal(err)
	}
	return len(codes) - found
}
