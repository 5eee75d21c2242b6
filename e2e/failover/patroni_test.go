package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// Patroni's timing. Production keeps Patroni's defaults (ttl 30s,
// loop_wait 10s); the suite shortens them so that a partition is noticed
// in seconds, which shortens every failover by the same factor but changes
// nothing about what happens. Patroni wants loop_wait + 2×retry_timeout ≤ ttl.
const (
	patroniTTL          = 10
	patroniLoopWait     = 1
	patroniRetryTimeout = 4
)

// pgCluster is an etcd and three PostgreSQL servers under Patroni, all on
// loopback ports, in synchronous mode.
type pgCluster struct {
	t     *testing.T
	dir   string
	cred  *syscall.Credential
	etcd  *proc
	nodes []*pgNode
}

// pgNode is one Patroni member and the PostgreSQL it runs.
type pgNode struct {
	name    string
	pgPort  int
	apiPort int
	dir     string
	patroni *proc
}

// Patroni talks to etcd through its v2 API (the etcd: section), not v3
// (etcd3:). Patroni before 3.0.3, Debian 12's 3.0.2 among them, can
// overwrite the leader key over etcd3 when a leader that stalled past its
// lease wakes up (patroni/patroni#2689): the partition scenario caught it
// demoting the new primary and taking the old one back, losing every
// create acknowledged in between. Over v2 the old leader's
// compare-and-swap fails and it demotes itself, as it should.
//
// startPatroni starts a one-member etcd and three Patroni nodes, and waits
// until one leads with two streaming replicas, one of them synchronous. A
// single etcd member is enough: every scenario stops PostgreSQL nodes,
// never the DCS, and Patroni's behaviour depends on the leader key's TTL,
// not on how many members hold it.
func startPatroni(t *testing.T, strict bool) *pgCluster {
	t.Helper()
	patroni := servicetest.Binary(t, "patroni")
	etcd := servicetest.Binary(t, "etcd")
	bin := pgBinDir(t)
	c := &pgCluster{t: t, cred: serverUser(t)}
	c.dir = tempDir(t, c.cred)

	clientPort, peerPort := servicetest.FreePort(t), servicetest.FreePort(t)
	etcdDir := filepath.Join(c.dir, "etcd")
	if err := os.Mkdir(etcdDir, 0o700); err != nil {
		t.Fatal(err)
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	c.etcd = start(t, "etcd", filepath.Join(etcdDir, "etcd.log"), nil, etcd,
		"--name", "e1", "--data-dir", filepath.Join(etcdDir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "e1="+peer, "--initial-cluster-state", "new",
		"--enable-v2", "--unsafe-no-fsync", "--log-level", "warn")
	if err := waitFor(15*time.Second, func() error {
		resp, err := http.Get(client + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("etcd health: %s", resp.Status)
		}
		return nil
	}); err != nil {
		t.Fatalf("etcd did not start: %v\n%s", err, tail(filepath.Join(etcdDir, "etcd.log")))
	}

	scope := fmt.Sprintf("ha%d", time.Now().UnixNano())
	for i := range 3 {
		n := &pgNode{name: fmt.Sprintf("node%d", i+1), pgPort: servicetest.FreePort(t), apiPort: servicetest.FreePort(t)}
		n.dir = filepath.Join(c.dir, n.name)
		if err := os.Mkdir(n.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(n.dir, "patroni.yml")
		if err := os.WriteFile(conf, []byte(patroniConfig(scope, n, clientPort, bin, strict)), 0o600); err != nil {
			t.Fatal(err)
		}
		if c.cred != nil {
			for _, p := range []string{n.dir, conf} {
				if err := os.Chown(p, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
					t.Fatal(err)
				}
			}
		}
		n.patroni = start(t, "patroni "+n.name, filepath.Join(n.dir, "patroni.log"), c.cred, patroni, conf)
		// PostgreSQL runs in a session of its own: kill it by its pid file.
		t.Cleanup(func() {
			if pid := n.postmasterPID(); pid > 0 {
				killGroupOf(pid)
			}
			if t.Failed() {
				t.Logf("%s's log:\n%s", n.name, tail(n.patroni.log))
			}
		})
		c.nodes = append(c.nodes, n)
		if i == 0 {
			// Let the first node bootstrap alone, so that the others
			// start as its replicas at once.
			if _, err := c.waitLeader(60 * time.Second); err != nil {
				t.Fatalf("no leader: %v\n%s", err, tail(n.patroni.log))
			}
		}
	}
	if err := c.waitHealthy(90 * time.Second); err != nil {
		t.Fatalf("cluster not healthy: %v", err)
	}
	return c
}

func patroniConfig(scope string, n *pgNode, etcdPort int, bin string, strict bool) string {
	return fmt.Sprintf(`scope: %[1]s
namespace: /shortlinks-test/
name: %[2]s
log:
  level: WARNING
restapi:
  listen: 127.0.0.1:%[3]d
  connect_address: 127.0.0.1:%[3]d
etcd:
  host: 127.0.0.1:%[4]d
bootstrap:
  dcs:
    ttl: %[8]d
    loop_wait: %[9]d
    retry_timeout: %[10]d
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    synchronous_mode_strict: %[7]t
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_connections: 100
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 128MB
  initdb:
    - encoding: UTF8
    - locale: C
postgresql:
  listen: 127.0.0.1:%[5]d
  connect_address: 127.0.0.1:%[5]d
  data_dir: %[6]s/data
  bin_dir: %[11]s
  pgpass: %[6]s/pgpass
  authentication:
    superuser: {username: postgres, password: postgres}
    replication: {username: replicator, password: replicator}
    rewind: {username: postgres, password: postgres}
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
  parameters:
    unix_socket_directories: %[6]s
    shared_buffers: 32MB
    fsync: "off"
    wal_retrieve_retry_interval: 200ms
`, scope, n.name, n.apiPort, etcdPort, n.pgPort, n.dir, strict, patroniTTL, patroniLoopWait, patroniRetryTimeout, bin)
}

// pgBinDir is where the PostgreSQL 15 programs are, which Patroni runs.
func pgBinDir(t *testing.T) string {
	t.Helper()
	for _, d := range []string{"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"} {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d
		}
	}
	if servicetest.CI() {
		t.Fatal("no PostgreSQL server programs under /usr/lib/postgresql")
	}
	t.Skip("no PostgreSQL server programs under /usr/lib/postgresql")
	return ""
}

// postmasterPID reads the node's postmaster.pid; 0 when it has none.
func (n *pgNode) postmasterPID() int {
	b, err := os.ReadFile(filepath.Join(n.dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	return pid
}

// url is a URL of database on this node alone.
func (n *pgNode) url(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", n.pgPort, database)
}

// URL names database on all three nodes, for a client that picks by role.
func (c *pgCluster) URL(database, attrs string) string {
	hosts := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		hosts[i] = "127.0.0.1:" + strconv.Itoa(n.pgPort)
	}
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable&target_session_attrs=%s", strings.Join(hosts, ","), database, attrs)
}

// ListURL is URL written so that it survives a comma-separated list, as
// --database-replica-urls is: the hosts and ports go in the query, their
// commas escaped (libpq's URI form, which pgx reads too).
func (c *pgCluster) ListURL(database, attrs string) string {
	hosts := make([]string, len(c.nodes))
	ports := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		hosts[i], ports[i] = "127.0.0.1", strconv.Itoa(n.pgPort)
	}
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%s&sslmode=disable&target_session_attrs=%s",
		database, strings.Join(hosts, "%2C"), strings.Join(ports, "%2C"), attrs)
}

// member is one entry of Patroni's GET /cluster.
type member struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	State string `json:"state"`
}

var api = &http.Client{Timeout: time.Second}

// members asks each node's REST API in turn until one answers.
func (c *pgCluster) members() ([]member, error) {
	var last error
	for _, n := range c.nodes {
		resp, err := api.Get(fmt.Sprintf("http://127.0.0.1:%d/cluster", n.apiPort))
		if err != nil {
			last = err
			continue
		}
		var body struct{ Members []member }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			last = err
			continue
		}
		return body.Members, nil
	}
	return nil, fmt.Errorf("no Patroni API answers: %w", last)
}

// leader returns the node that Patroni says leads, and is running.
func (c *pgCluster) leader() (*pgNode, error) {
	ms, err := c.members()
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.Role == "leader" && m.State == "running" {
			for _, n := range c.nodes {
				if n.name == m.Name {
					return n, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no running leader among %+v", ms)
}

func (c *pgCluster) waitLeader(limit time.Duration) (*pgNode, error) {
	var n *pgNode
	err := waitFor(limit, func() error {
		var err error
		n, err = c.leader()
		return err
	})
	return n, err
}

// waitHealthy waits until the leader accepts writes and streams to both
// other nodes, one of them synchronously.
func (c *pgCluster) waitHealthy(limit time.Duration) error {
	return waitFor(limit, func() error {
		l, err := c.leader()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, l.url("postgres"))
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		var streaming, sync int
		var readOnly bool
		// Only the members count: a base backup streams too while a
		// replica is being made.
		err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'streaming'), count(*) FILTER (WHERE state = 'streaming' AND sync_state = 'sync'),
			pg_is_in_recovery() FROM pg_stat_replication WHERE application_name LIKE 'node%'`).Scan(&streaming, &sync, &readOnly)
		if err != nil {
			return err
		}
		if readOnly || streaming != 2 || sync != 1 {
			return fmt.Errorf("leader %s: %d streaming, %d synchronous, in recovery %v", l.name, streaming, sync, readOnly)
		}
		return nil
	})
}

// exec runs sql on the leader.
func (c *pgCluster) exec(database, sql string) error {
	l, err := c.leader()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, l.url(database))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// switchover asks Patroni's REST API to hand leadership from l to another
// node, and returns when Patroni reports it done.
func (c *pgCluster) switchover(l *pgNode) error {
	body := strings.NewReader(fmt.Sprintf(`{"leader": %q}`, l.name))
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Post(fmt.Sprintf("http://127.0.0.1:%d/switchover", l.apiPort), "application/json", body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b := make([]byte, 512)
		n, _ := resp.Body.Read(b)
		return fmt.Errorf("switchover: %s: %s", resp.Status, b[:n])
	}
	return nil
}

// tail returns the end of a log file, for failure messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}
