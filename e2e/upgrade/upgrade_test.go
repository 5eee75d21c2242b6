// Package upgrade checks that a release's migrations do not break the
// release before it (expand/contract, see CONTRIBUTING.md): the previous
// schema-changing version serves PostgreSQL under traffic while this
// version migrates the database and starts beside it, and the old one
// answers every redirect and create throughout. It builds the old version
// from git history, so it runs only when SHORTLINKS_TEST_UPGRADE=1 (make
// test-upgrade).
package upgrade

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/e2e/e2etest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
)

// upgradeVar turns the test on; fromVar names the old version instead of
// the one found in history.
const (
	upgradeVar = "SHORTLINKS_TEST_UPGRADE"
	fromVar    = "SHORTLINKS_UPGRADE_FROM"
)

// migrations are where the engines keep their migrations, as a git
// pathspec.
const migrations = ":(glob)internal/store/*/migrations/**"

func TestMain(m *testing.M) {
	code := m.Run()
	e2etest.Cleanup()
	os.Exit(code)
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// previous returns the commit to upgrade from: the one before the latest
// change to the migrations on this branch's first-parent line (on main,
// the state before the last merge that changed the schema), or HEAD when
// the work tree changes the migrations itself.
func previous(t *testing.T, root string) (commit, why string) {
	if c := os.Getenv(fromVar); c != "" {
		return git(t, root, "rev-parse", "--verify", c+"^{commit}"), "given by " + fromVar
	}
	if git(t, root, "status", "--porcelain", "--", migrations) != "" {
		return git(t, root, "rev-parse", "HEAD"), "HEAD: the work tree changes the migrations"
	}
	last := git(t, root, "log", "--first-parent", "-n", "1", "--format=%H", "--", migrations)
	if last == "" {
		t.Fatal("no commit in this history changed the migrations; is the clone shallow? (git fetch --unshallow)")
	}
	parent, err := exec.Command("git", "-C", root, "rev-parse", "--verify", last+"^1").Output()
	if err != nil {
		t.Fatalf("%s changed the migrations, but its parent is not in this clone; is it shallow? (git fetch --unshallow)", last)
	}
	subject := git(t, root, "log", "-n", "1", "--format=%h %s", last)
	return strings.TrimSpace(string(parent)), "the parent of " + subject
}

// buildOld checks out commit in a temporary worktree and builds it.
func buildOld(t *testing.T, root, commit string) string {
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	git(t, root, "worktree", "add", "--detach", tree, commit)
	t.Cleanup(func() {
		exec.Command("git", "-C", root, "worktree", "remove", "--force", tree).Run()
		exec.Command("git", "-C", root, "worktree", "prune").Run()
	})
	return e2etest.Build(t, tree, dir)
}

// traffic sends creates and redirects to one server from several clients
// and keeps every failure.
type traffic struct {
	srv      *e2etest.Server
	stop     atomic.Bool
	wg       sync.WaitGroup
	mu       sync.Mutex
	links    map[string]string // acknowledged: code → URL
	codes    []string
	failures []string
	creates  atomic.Int64
	gets     atomic.Int64
}

func startTraffic(srv *e2etest.Server, clients int) *traffic {
	tr := &traffic{srv: srv, links: map[string]string{}}
	for c := range clients {
		tr.wg.Go(func() {
			for i := 0; !tr.stop.Load(); i++ {
				if i%3 == 0 {
					u := fmt.Sprintf("https://example.com/upgrade/%d/%d", c, i)
					code, err := srv.Create(u)
					tr.creates.Add(1)
					tr.record(err)
					if err == nil {
						tr.mu.Lock()
						tr.links[code] = u
						tr.codes = append(tr.codes, code)
						tr.mu.Unlock()
					}
					continue
				}
				tr.mu.Lock()
				if len(tr.codes) == 0 {
					tr.mu.Unlock()
					continue
				}
				code := tr.codes[(c*7919+i)%len(tr.codes)]
				u := tr.links[code]
				tr.mu.Unlock()
				tr.gets.Add(1)
				tr.record(srv.Redirects(code, u))
			}
		})
	}
	return tr
}

func (tr *traffic) record(err error) {
	if err == nil {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.failures = append(tr.failures, time.Now().Format("15:04:05.000")+" "+strings.TrimSpace(err.Error()))
}

func (tr *traffic) end() {
	tr.stop.Store(true)
	tr.wg.Wait()
}

func TestUpgradeUnderTraffic(t *testing.T) {
	if os.Getenv(upgradeVar) != "1" {
		t.Skipf("set %s=1 (make test-upgrade) to run the upgrade test; it builds the previous schema-changing version from git history", upgradeVar)
	}
	servicetest.Binary(t, "git")
	dsn := pgtest.Database(t)
	root := e2etest.ModuleRoot(t)
	from, why := previous(t, root)
	t.Logf("upgrading from %s (%s)", from[:12], why)
	old := buildOld(t, root, from)
	bin := e2etest.Binary(t)

	db := []string{"--database-url", dsn, "--rate-limit-create", "0"}
	if out, err := e2etest.Run(old, append([]string{"migrate"}, db...)...); err != nil {
		t.Fatalf("old migrate: %v\n%s", err, out)
	} else {
		t.Logf("old migrate: %s", strings.TrimSpace(out))
	}
	oldSrv := e2etest.Start(t, old, db...)
	tr := startTraffic(oldSrv, 4)
	time.Sleep(time.Second)

	// The new version's migrations, while the old one serves.
	out, err := e2etest.Run(bin, append([]string{"migrate"}, db...)...)
	if err != nil {
		tr.end()
		t.Fatalf("new migrate under the old version's traffic: %v\n%s", err, out)
	}
	t.Logf("new migrate: %s", strings.TrimSpace(out))
	time.Sleep(500 * time.Millisecond)

	// The new version starts beside the old and serves what the old made;
	// the old serves what the new makes.
	newSrv := e2etest.Start(t, bin, db...)
	newCode, err := newSrv.Create("https://example.com/made-by-new")
	if err != nil {
		t.Errorf("create on the new version: %v", err)
	}
	time.Sleep(time.Second)
	if newCode != "" {
		if err := oldSrv.Redirects(newCode, "https://example.com/made-by-new"); err != nil {
			t.Errorf("the old version, redirecting a link the new one made: %v", err)
		}
	}
	tr.end()

	t.Logf("old version under traffic: %d creates, %d redirects, %d failed", tr.creates.Load(), tr.gets.Load(), len(tr.failures))
	if len(tr.failures) > 0 {
		n := min(len(tr.failures), 10)
		t.Errorf("the old version failed %d requests once the new version migrated; first %d:\n%s\n"+
			"a migration broke the previous release: split it into expand and contract (CONTRIBUTING.md)",
			len(tr.failures), n, strings.Join(tr.failures[:n], "\n"))
	}
	if tr.creates.Load() == 0 || tr.gets.Load() == 0 {
		t.Fatal("the old version got no traffic")
	}
	checked := 0
	for code, u := range tr.links {
		if err := newSrv.Redirects(code, u); err != nil {
			t.Errorf("the new version, redirecting a link the old one made: %v", err)
		}
		if checked++; checked == 200 {
			break
		}
	}

	// A rollback: the old version starts again on the migrated schema.
	oldSrv.Stop()
	again := e2etest.Start(t, old, db...)
	if _, err := again.Create("https://example.com/after-rollback"); err != nil {
		t.Errorf("the old version, started again on the new schema: %v", err)
	}
	if newCode != "" {
		if err := again.Redirects(newCode, "https://example.com/made-by-new"); err != nil {
			t.Errorf("the old version, started again on the new schema: %v", err)
		}
	}
}
