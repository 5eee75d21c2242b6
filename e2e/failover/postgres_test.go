package failover

import (
	"context"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortlinks/shortlinks/internal/redisconn/redistest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/shortcode"
)

// A fault is done to the leader of a healthy cluster under traffic. It
// returns a function that undoes it (nil: nothing to undo), which the
// scenario calls once creates succeed again.
type fault func(t *testing.T, c *pgCluster, leader *pgNode) (heal func())

// TestPostgresFailover takes the PostgreSQL primary away three ways, each
// on a fresh cluster, under creates and redirects from several clients
// against two instances, and checks that no acknowledged create is lost
// and no id block is handed out twice.
func TestPostgresFailover(t *testing.T) {
	requireHA(t)
	scenarios := []struct {
		name  string
		fault fault
	}{
		{"postmaster SIGKILL", func(t *testing.T, c *pgCluster, l *pgNode) func() {
			pid := l.postmasterPID()
			if pid == 0 {
				t.Fatal("the leader has no postmaster.pid")
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{"switchover", func(t *testing.T, c *pgCluster, l *pgNode) func() {
			// Patroni's REST API answers when the new leader runs.
			go func() {
				if err := c.switchover(l); err != nil {
					t.Errorf("switchover: %v", err)
				}
			}()
			return nil
		}},
		{"partition (SIGSTOP)", func(t *testing.T, c *pgCluster, l *pgNode) func() {
			// Cut off from everyone, a node's Patroni can no longer renew
			// the leader key and its PostgreSQL answers no one: stopping
			// both is what the rest of the cluster and the clients see.
			pg := l.postmasterPID()
			if pg == 0 {
				t.Fatal("the leader has no postmaster.pid")
			}
			if err := l.patroni.signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			// The postmaster first, so that it starts no new child.
			frozen := family(pg)
			for _, pid := range frozen {
				syscall.Kill(pid, syscall.SIGSTOP)
			}
			return func() {
				for _, pid := range frozen {
					syscall.Kill(pid, syscall.SIGCONT)
				}
				l.patroni.signal(syscall.SIGCONT)
			}
		}},
	}
	var all []figures
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			all = append(all, pgScenario(t, sc.name, sc.fault))
		})
	}
	report(t, all...)
}

func pgScenario(t *testing.T, name string, fault fault) figures {
	redisURL := servicetest.Redis(t)
	c := startPatroni(t, true)
	if err := c.exec("postgres", "CREATE DATABASE shortlinks"); err != nil {
		t.Fatal(err)
	}
	key := newCodeKey()
	instances := startInstances(t, 2,
		"--database-url", c.URL("shortlinks", "read-write"),
		"--database-replica-urls", c.ListURL("shortlinks", "prefer-standby"),
		"--auto-migrate", "--code-key", key, "--rate-limit-create", "0",
		"--redis-url", redisURL, "--redis-key-prefix", redistest.Prefix(t, redisURL))

	tr := startTraffic(instances)
	defer tr.stop()
	time.Sleep(3 * time.Second)
	before, err := c.leader()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	writable := make(chan time.Duration, 1)
	go func() { writable <- c.writableAgain(t0, 90*time.Second) }()
	heal := fault(t, c, before)

	// The primary comes back, by Patroni's account; then creates must.
	back := <-writable
	if err := waitFor(30*time.Second, func() error { return tr.createdSince(t0.Add(back)) }); err != nil {
		t.Fatalf("creates did not come back after the primary did: %v", err)
	}
	lag := tr.firstCreatedSince(t0.Add(back))
	if heal != nil {
		time.Sleep(3 * time.Second)
		heal()
	}
	if err := c.waitHealthy(90 * time.Second); err != nil {
		t.Errorf("cluster not healthy again: %v", err)
	}
	time.Sleep(3 * time.Second)
	tr.stop()

	after, err := c.leader()
	if err != nil {
		t.Fatal(err)
	}
	f := tr.measure(t, name, http.StatusFound)
	f.Note = fmt.Sprintf("leader %s → %s; primary writable again after %.1fs; the instances' first create %.2fs after that",
		before.name, after.name, back.Seconds(), lag.Seconds())

	// Cached links and the replicas keep redirects serving while the
	// primary is gone.
	if f.RedirectsFailed != 0 {
		t.Errorf("%s: %d of %d redirects failed during the fault; cached links and replicas must keep serving them",
			name, f.RedirectsFailed, f.RedirectsOK+f.RedirectsFailed)
	}

	acked := tr.acknowledged()
	f.Lost = lost(t, after, acked)
	if f.Lost != 0 {
		t.Errorf("%d acknowledged creates are not in the database after the failover", f.Lost)
	}
	checkRedirects(t, tr, acked)
	checkBlocks(t, after, key, acked)
	return f
}

// writableAgain watches the cluster from t0, as a client of its own
// would: it returns how long after t0 a leader, by Patroni's account,
// committed a write again (synchronously replicated), after first having
// failed to. The difference
// between that and the instances' first successful create is what the
// instances' way of finding the primary costs.
func (c *pgCluster) writableAgain(t0 time.Time, limit time.Duration) time.Duration {
	failed := false
	for time.Since(t0) < limit {
		ok := func() bool {
			l, err := c.leader()
			if err != nil {
				return false
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			conn, err := pgx.Connect(ctx, l.url("postgres"))
			if err != nil {
				return false
			}
			defer conn.Close(ctx)
			// A transaction id makes the commit wait for the synchronous
			// standby: this is a write acknowledged as a create would be.
			var xid string
			return conn.QueryRow(ctx, `SELECT pg_current_xact_id()::text`).Scan(&xid) == nil
		}()
		switch {
		case !ok:
			failed = true
		case failed:
			return time.Since(t0)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return limit
}

// createdSince reports whether a create that started at or after t0 has
// succeeded.
func (tr *traffic) createdSince(t0 time.Time) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i := len(tr.creates) - 1; i >= 0 && !tr.creates[i].start.Before(t0); i-- {
		if tr.creates[i].status == http.StatusCreated {
			return nil
		}
	}
	return errNotYet
}

// firstCreatedSince returns how long after t a create that started then
// or later first succeeded.
func (tr *traffic) firstCreatedSince(t time.Time) time.Duration {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, c := range tr.creates {
		if !c.start.Before(t) && c.status == http.StatusCreated {
			return c.end.Sub(t)
		}
	}
	return -1
}

// lost counts the acknowledged codes that the leader does not hold.
func lost(t *testing.T, leader *pgNode, acked map[string]int) int {
	t.Helper()
	return lostIn(t, leader.url("shortlinks"), acked)
}

// checkRedirects asks the instances, in turn, to redirect every
// acknowledged code.
func checkRedirects(t *testing.T, tr *traffic, acked map[string]int) {
	t.Helper()
	failed, i := 0, 0
	for code := range acked {
		r := tr.get(tr.instances[i%len(tr.instances)], code)
		i++
		if r.status != http.StatusFound {
			failed++
			if failed <= 5 {
				t.Errorf("after the failover, %s does not redirect: %d %v", code, r.status, r.err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d acknowledged links do not redirect after the failover", failed, len(acked))
	}
}

// checkBlocks turns every acknowledged code back into its id and checks
// that no block of ids served two instances, and that the sequence on the
// new primary stands past every id issued, so that no later block can
// overlap an earlier one.
func checkBlocks(t *testing.T, leader *pgNode, key string, acked map[string]int) {
	t.Helper()
	k, err := shortcode.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	perm, err := shortcode.NewPermutation(k)
	if err != nil {
		t.Fatal(err)
	}
	const block = shortcode.DefaultBlock
	owner := map[uint64]int{}
	var maxID uint64
	for code, inst := range acked {
		id, err := perm.Decode(code)
		if err != nil {
			t.Errorf("code %s: %v", code, err)
			continue
		}
		maxID = max(maxID, id)
		b := (id - 1) / block
		if o, ok := owner[b]; ok && o != inst {
			t.Errorf("ids %d to %d were issued by instances %d and %d", b*block+1, (b+1)*block, o, inst)
		}
		owner[b] = inst
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, leader.url("shortlinks"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var last uint64
	if err := conn.QueryRow(ctx, `SELECT last_value FROM link_ids`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if maxID >= last+block {
		t.Errorf("id %d was issued but the sequence on the new primary stands at %d: its next block would overlap", maxID, last)
	}
	t.Logf("%d codes from %d blocks; highest id %d, sequence at %d", len(acked), len(owner), maxID, last)
}
