package blocklist_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortlinks/shortlinks/internal/blocklist"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// writeFile replaces path with text the way list updaters do: write a new
// file beside it and rename it over the old one.
func writeFile(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func mustOpen(t *testing.T, sources []blocklist.Source, opts blocklist.Options) *blocklist.Lists {
	t.Helper()
	l, err := blocklist.Open(sources, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// normalize gives u the form links are stored in, as Match expects.
func normalize(t *testing.T, u string) string {
	t.Helper()
	n, err := link.NormalizeURL(u, link.URLRules{})
	if err != nil {
		t.Fatalf("NormalizeURL(%q): %v", u, err)
	}
	return n
}

func TestMatch(t *testing.T) {
	dir := t.TempDir()
	domains := filepath.Join(dir, "domains.txt")
	urls := filepath.Join(dir, "urls.txt")
	writeFile(t, domains, "evil.example\nbücher.example\n192.0.2.66\n2001:db8::66\nsub.only.example\n")
	writeFile(t, urls, "http://phishing.example/login?a=1\nhttp://files.example\n")
	l := mustOpen(t, []blocklist.Source{{Path: domains}, {Name: "phish", Path: urls, Format: blocklist.URLs}}, blocklist.Options{})

	tests := []struct {
		url, list, entry string
		kind             blocklist.Kind
	}{
		{"https://evil.example/", "domains", "evil.example", blocklist.Host},
		{"https://EVIL.example./x?y#z", "domains", "evil.example", blocklist.Host},
		{"https://a.b.evil.example:8443/x", "domains", "evil.example", blocklist.Host},
		{"https://shop.bücher.example/", "domains", "xn--bcher-kva.example", blocklist.Host},
		{"http://3221226050/x", "domains", "192.0.2.66", blocklist.Host},
		{"http://[2001:db8:0:0:0:0:0:66]:81/", "domains", "[2001:db8::66]", blocklist.Host},
		{"http://x.sub.only.example/", "domains", "sub.only.example", blocklist.Host},
		{"http://phishing.example/login?a=1", "phish", "", blocklist.URL},
		{"https://PHISHING.example:443/login?a=1#frag", "phish", "", blocklist.URL},
		{"http://files.example/", "phish", "", blocklist.URL},
		{"http://files.example", "phish", "", blocklist.URL},
	}
	for _, tt := range tests {
		u := normalize(t, tt.url)
		m, ok := l.Match(u)
		if !ok || m.List != tt.list || m.Kind != tt.kind || (tt.entry != "" && m.Entry != tt.entry) {
			t.Errorf("Match(%q) = %+v, %t; want list %s, entry %q", u, m, ok, tt.list, tt.entry)
		}
		reason, blocked := l.Blocked(u)
		if !blocked || !strings.Contains(reason, `"`+tt.list+`"`) {
			t.Errorf("Blocked(%q) = %q, %t", u, reason, blocked)
		}
	}
	for _, u := range []string{
		"https://notevil.example/", "https://evil.example.com/", "https://example/", "https://only.example/",
		"http://192.0.2.67/", "http://66.2.0.192/", "http://phishing.example/login", "http://phishing.example/login?a=2",
		"http://phishing.example/", "http://files.example/x",
	} {
		if m, ok := l.Match(normalize(t, u)); ok {
			t.Errorf("Match(%q) = %+v, want no match", u, m)
		}
	}
	if got := l.Current().Len(); got != 7 {
		t.Errorf("Len() = %d, want 7", got)
	}
}

func TestBlockedAsScreen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.txt")
	writeFile(t, path, "evil.example\n")
	var screen link.Screen = mustOpen(t, []blocklist.Source{{Path: path}}, blocklist.Options{})
	reason, blocked := screen.Blocked("https://www.evil.example/")
	if !blocked || reason != `evil.example is on the blocklist "bad"` {
		t.Fatalf("Blocked = %q, %t", reason, blocked)
	}
}

func TestOpenFailures(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt")
	writeFile(t, good, "a.example\n")
	garbage := filepath.Join(dir, "garbage.txt")
	writeFile(t, garbage, "not a list at all\nnor this\n")
	zip := filepath.Join(dir, "list.zip")
	writeFile(t, zip, "PK\x03\x04rest of a zip")
	huge := filepath.Join(dir, "huge.txt")
	writeFile(t, huge, "a.example\nb.example\nc.example\n")

	tests := []struct {
		name    string
		sources []blocklist.Source
		opts    blocklist.Options
		want    string
	}{
		{"missing file", []blocklist.Source{{Path: filepath.Join(dir, "absent.txt")}}, blocklist.Options{}, "no such file"},
		{"directory", []blocklist.Source{{Path: dir}}, blocklist.Options{}, "not a regular file"},
		{"nothing readable", []blocklist.Source{{Path: garbage}}, blocklist.Options{}, `no entries read as domains; 2 lines skipped, the first at line 1: "not a list at all"`},
		{"zip", []blocklist.Source{{Path: zip}}, blocklist.Options{}, "zip archive"},
		{"too many entries", []blocklist.Source{{Path: huge}}, blocklist.Options{MaxEntries: 2}, "more than 2 entries"},
		{"duplicate names", []blocklist.Source{{Path: good}, {Name: "good", Path: huge}}, blocklist.Options{}, `two lists are named "good"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := blocklist.Open(tt.sources, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("0.0.0.0 zipped.example\n"))
	zw.Close()
	path := filepath.Join(t.TempDir(), "hosts.gz")
	writeFile(t, path, buf.String())
	l := mustOpen(t, []blocklist.Source{{Path: path}}, blocklist.Options{})
	if _, ok := l.Match("http://zipped.example/"); !ok {
		t.Fatal("entry of a gzip-compressed list not matched")
	}
	if st := l.Status()[0]; st.Format != blocklist.Hosts || st.Entries != 1 || st.Name != "hosts" {
		t.Fatalf("status %+v", st)
	}
}

func TestParseSource(t *testing.T) {
	for in, want := range map[string]blocklist.Source{
		"/etc/bl/domains.txt":              {Path: "/etc/bl/domains.txt"},
		"csv:/data/urlhaus.csv":            {Path: "/data/urlhaus.csv", Format: blocklist.CSV},
		"urlhaus=csv:/data/urlhaus.csv":    {Name: "urlhaus", Path: "/data/urlhaus.csv", Format: blocklist.CSV},
		"mine=/data/x.txt":                 {Name: "mine", Path: "/data/x.txt"},
		"notaformat:/data/x.txt":           {Path: "notaformat:/data/x.txt"},
		"/data/a=b.txt":                    {Path: "/data/a=b.txt"},
		"hosts=hosts:/etc/blocklist.hosts": {Name: "hosts", Path: "/etc/blocklist.hosts", Format: blocklist.Hosts},
	} {
		got, err := blocklist.ParseSource(in)
		if err != nil || got != want {
			t.Errorf("ParseSource(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if _, err := blocklist.ParseSource("name="); err == nil {
		t.Error("ParseSource(\"name=\") accepted")
	}
}

// reloads collects the updates that Run reports.
type reloads struct {
	mu      sync.Mutex
	updates []blocklist.Update
}

func (r *reloads) add(u blocklist.Update) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.updates = append(r.updates, u)
}

func (r *reloads) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.updates)
}

func (r *reloads) last() blocklist.Update {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.updates[len(r.updates)-1]
}

// startRun runs l until the test ends.
func startRun(t *testing.T, l *blocklist.Lists) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "list.txt")
	other := filepath.Join(dir, "other.txt")
	writeFile(t, path, "old.example\nshared.example\n")
	writeFile(t, other, "shared.example\n")
	var got reloads
	reg := prometheus.NewRegistry()
	l := mustOpen(t, []blocklist.Source{{Path: path}, {Path: other}}, blocklist.Options{
		Interval: 20 * time.Millisecond, Settle: 10 * time.Millisecond, OnChange: got.add, Registerer: reg,
	})
	startRun(t, l)
	before := l.Current()

	// A new version adds one entry, keeps one, drops one, and lists one
	// that the other list already has.
	writeFile(t, path, "new.example\nshared.example\nanother.example\n")
	servicetest.Eventually(t, 5*time.Second, "reload after rename", func() error {
		if _, ok := l.Match("https://www.another.example/"); !ok {
			return errors.New("new entry not matched")
		}
		return nil
	})
	if _, ok := l.Match("https://old.example/"); ok {
		t.Error("removed entry still matched")
	}
	if _, ok := before.Match("https://another.example/"); ok {
		t.Error("the old Matcher changed: Matchers must be immutable")
	}
	servicetest.Eventually(t, 5*time.Second, "an update reported", func() error {
		if got.count() == 0 {
			return errors.New("no update")
		}
		return nil
	})
	u := got.last()
	if u.List != "list" || u.AddedCount != 2 || u.RemovedCount != 1 || u.Added.Len() != 2 {
		t.Fatalf("update %+v (Added holds %d)", u, u.Added.Len())
	}
	for host, want := range map[string]bool{"new.example": true, "another.example": true, "shared.example": false, "old.example": false} {
		if _, ok := u.Added.Match("http://" + host + "/"); ok != want {
			t.Errorf("Added.Match(%s) = %t, want %t", host, ok, want)
		}
	}
	if strings.Join(u.Sample, ",") != "new.example,another.example" {
		t.Errorf("sample %q", u.Sample)
	}
	if v := metric(t, reg, "shortlinks_blocklist_entries", "list"); v != 3 {
		t.Errorf("entries metric %v, want 3", v)
	}
}

// metric returns the value of the metric name for list in reg.
func metric(t *testing.T, reg *prometheus.Registry, name, list string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "list" && lp.GetValue() == list {
					if m.Counter != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no metric %s{list=%q}", name, list)
	return 0
}

func TestReloadKeepsLastGoodList(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "list.txt")
	writeFile(t, path, "evil.example\n")
	var got reloads
	reg := prometheus.NewRegistry()
	l := mustOpen(t, []blocklist.Source{{Path: path}}, blocklist.Options{
		Interval: 20 * time.Millisecond, Settle: 10 * time.Millisecond, OnChange: got.add, Registerer: reg,
	})
	startRun(t, l)

	// A broken version: nothing in it reads as a domain.
	writeFile(t, path, "<html>502 Bad Gateway</html>\n")
	servicetest.Eventually(t, 5*time.Second, "failed reload reported", func() error {
		if l.Status()[0].Err == nil {
			return errors.New("no error in status")
		}
		return nil
	})
	if _, ok := l.Match("https://evil.example/"); !ok {
		t.Fatal("the last good list was dropped after a failed reload")
	}
	if v := metric(t, reg, "shortlinks_blocklist_load_failures_total", "list"); v != 1 {
		t.Errorf("failures metric %v, want 1", v)
	}

	// The file disappears for a while: the list stays.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	servicetest.Eventually(t, 5*time.Second, "missing file reported", func() error {
		if err := l.Status()[0].Err; err == nil || !errors.Is(err, os.ErrNotExist) {
			return errors.New("status does not say the file is missing")
		}
		return nil
	})
	if _, ok := l.Match("https://evil.example/"); !ok {
		t.Fatal("the list was dropped when its file went missing")
	}

	// A good version again.
	writeFile(t, path, "evil.example\nworse.example\n")
	servicetest.Eventually(t, 5*time.Second, "reload after the fix", func() error {
		if _, ok := l.Match("https://worse.example/"); !ok {
			return errors.New("new entry not matched")
		}
		return nil
	})
	if st := l.Status()[0]; st.Err != nil || st.Entries != 2 || st.Loaded.IsZero() {
		t.Fatalf("status after the fix: %+v", st)
	}
	if got.count() != 1 || got.last().AddedCount != 1 || got.last().RemovedCount != 0 {
		t.Fatalf("updates: %d, last %+v; want one adding worse.example", got.count(), got.last())
	}
}

// TestReloadInPlaceAndSymlinks covers the ways files change besides a
// rename: rewritten in place, touched without a change, and a Kubernetes
// ConfigMap volume, whose file is a symlink through a directory symlink that
// is swapped.
func TestReloadInPlaceAndSymlinks(t *testing.T) {
	dir := t.TempDir()
	inPlace := filepath.Join(dir, "inplace.txt")
	if err := os.WriteFile(inPlace, []byte("a.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// ConfigMap layout: list.txt -> ..data/list.txt, ..data -> ..v1.
	for _, v := range []string{"..v1", "..v2"} {
		if err := os.Mkdir(filepath.Join(dir, v), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "..v1", "list.txt"), []byte("0.0.0.0 v1.example\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "..v2", "list.txt"), []byte("0.0.0.0 v2.example\n"), 0o644)
	if err := os.Symlink("..v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	mounted := filepath.Join(dir, "mounted.txt")
	if err := os.Symlink(filepath.Join("..data", "list.txt"), mounted); err != nil {
		t.Fatal(err)
	}

	var got reloads
	l := mustOpen(t, []blocklist.Source{{Path: inPlace}, {Path: mounted}}, blocklist.Options{
		Interval: 20 * time.Millisecond, Settle: 10 * time.Millisecond, OnChange: got.add,
	})
	if _, ok := l.Match("http://v1.example/"); !ok {
		t.Fatal("list behind symlinks not read")
	}
	startRun(t, l)

	// Touched, not changed: no update.
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(inPlace, future, future); err != nil {
		t.Fatal(err)
	}
	// Rewritten in place.
	if err := os.WriteFile(inPlace, []byte("a.example\nb.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	servicetest.Eventually(t, 5*time.Second, "in-place rewrite", func() error {
		if _, ok := l.Match("http://b.example/"); !ok {
			return errors.New("not reloaded")
		}
		return nil
	})
	// The ConfigMap is updated: ..data now points at ..v2.
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink("..v2", tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	servicetest.Eventually(t, 5*time.Second, "symlink swap", func() error {
		if _, ok := l.Match("http://v2.example/"); !ok {
			return errors.New("not reloaded")
		}
		return nil
	})
	if _, ok := l.Match("http://v1.example/"); ok {
		t.Error("entry of the old ConfigMap version still matched")
	}
	if n := got.count(); n != 2 {
		t.Errorf("%d updates, want 2 (the touch changed nothing)", n)
	}
}
