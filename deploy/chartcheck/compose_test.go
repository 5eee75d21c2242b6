package chartcheck

import (
	"context"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"
)

var composeDir = repoPath("deploy", "compose")

// loadCompose loads compose.yaml with the Compose Specification's reference
// loader (the one `docker compose` uses): schema validation, interpolation
// with the defaults in the file (no environment), relative paths resolved.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(composeDir, "compose.yaml")},
		cli.WithName("shortlinks"), cli.WithEnv(nil), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return p
}

func TestCompose(t *testing.T) {
	p := loadCompose(t)

	wantServices := []string{"app1", "app2", "bugsink", "fluent-bit", "gateway", "grafana", "migrate",
		"opensearch", "opensearch-dashboards", "postgres-primary", "postgres-replica", "prometheus", "redis", "worker"}
	if got := slices.Sorted(func(yield func(string) bool) {
		for name := range p.Services {
			if !yield(name) {
				return
			}
		}
	}); !slices.Equal(got, wantServices) {
		t.Errorf("services %v\nwant     %v", got, wantServices)
	}
	svc := func(name string) types.ServiceConfig {
		s, ok := p.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		return s
	}

	// Healthchecks everywhere a shell or tool exists to run one.
	noHealthcheck := []string{"migrate", "fluent-bit"} // one-shot, or a distroless image without a probe command
	for name, s := range p.Services {
		has := s.HealthCheck != nil && !s.HealthCheck.Disable && len(s.HealthCheck.Test) > 0
		if has == slices.Contains(noHealthcheck, name) {
			t.Errorf("%s: healthcheck %v", name, s.HealthCheck)
		}
	}

	// The instances probe themselves with the binary (the image has no
	// shell), and the gateway starts once they are ready.
	for _, app := range []string{"app1", "app2"} {
		if hc := svc(app).HealthCheck; hc == nil || !slices.Equal([]string(hc.Test), []string{"CMD", "/shortlinks", "healthcheck", "--url", "http://127.0.0.1:8080/readyz"}) {
			t.Errorf("%s healthcheck %+v, want the binary asking its own /readyz", app, hc)
		}
		if c := svc("gateway").DependsOn[app].Condition; c != "service_healthy" {
			t.Errorf("gateway depends on %s with condition %q, want service_healthy", app, c)
		}
	}

	// The analytics worker runs the binary's worker command on the
	// instances' database and Redis, probing its own /readyz.
	w := svc("worker")
	if !slices.Equal([]string(w.Command), []string{"worker"}) || w.Environment["SHORTLINKS_REDIS_URL"] == nil || w.Environment["SHORTLINKS_DATABASE_URL"] == nil {
		t.Errorf("worker: command %v, environment %v", w.Command, w.Environment)
	}
	if hc := w.HealthCheck; hc == nil || !slices.Contains([]string(hc.Test), "http://127.0.0.1:8081/readyz") {
		t.Errorf("worker healthcheck %+v, want its own /readyz on :8081", hc)
	}

	// The gateway: port 8080 → 80, the gateway config files mounted by name.
	gw := svc("gateway")
	if len(gw.Ports) != 1 || gw.Ports[0].Published != "8080" || gw.Ports[0].Target != 80 {
		t.Errorf("gateway ports %+v, want 8080→80", gw.Ports)
	}
	checkMount(t, gw, repoPath("deploy", "nginx", "shortlinks.conf"), "/etc/nginx/conf.d/default.conf")
	checkMount(t, gw, repoPath("deploy", "nginx", "shortlinks-upstreams.compose.conf"), "/etc/nginx/shortlinks-upstreams.conf")
	checkMount(t, gw, repoPath("deploy", "nginx", "shortlinks-domains.compose.conf"), "/etc/nginx/shortlinks-domains.conf")
	// The gateway serves the instances' default domain: the host of their
	// base URL.
	rawBase := svc("app1").Environment["SHORTLINKS_BASE_URL"]
	if rawBase == nil {
		t.Fatal("app1 has no SHORTLINKS_BASE_URL")
	}
	base, err := url.Parse(*rawBase)
	if err != nil {
		t.Fatalf("SHORTLINKS_BASE_URL: %v", err)
	}
	if names := serverNames(string(mustRead(t, repoPath("deploy", "nginx", "shortlinks-domains.compose.conf")))); !slices.Contains(names, base.Hostname()) {
		t.Errorf("shortlinks-domains.compose.conf serves %v, not the base URL's host %s", names, base.Hostname())
	}
	upstreams := string(mustRead(t, repoPath("deploy", "nginx", "shortlinks-upstreams.compose.conf")))
	for _, app := range []string{"app1", "app2"} {
		if _, ok := gw.DependsOn[app]; !ok {
			t.Errorf("gateway does not depend on %s", app)
		}
		if !regexp.MustCompile(`(?m)^\s*server\s+` + app + `:8080[\s;]`).MatchString(upstreams) {
			t.Errorf("shortlinks-upstreams.compose.conf does not list %s:8080", app)
		}
	}

	// The network whose addresses the instances trust.
	net, ok := p.Networks["shortlinks"]
	if !ok || len(net.Ipam.Config) != 1 {
		t.Fatalf("network shortlinks: %+v", net)
	}
	subnet, err := netip.ParsePrefix(net.Ipam.Config[0].Subnet)
	if err != nil {
		t.Fatalf("subnet: %v", err)
	}

	codeKey := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for _, name := range []string{"app1", "app2", "migrate"} {
		s := svc(name)
		env := map[string]string{}
		for k, v := range s.Environment {
			if v == nil {
				t.Errorf("%s: %s has no value", name, k)
				continue
			}
			env[k] = *v
		}
		checkDatabaseURL(t, name, env["SHORTLINKS_DATABASE_URL"], "postgres-primary")
		checkDatabaseURL(t, name, env["SHORTLINKS_DATABASE_REPLICA_URLS"], "postgres-replica")
		if u, err := url.Parse(env["SHORTLINKS_REDIS_URL"]); err != nil || u.Scheme != "redis" || u.Hostname() != "redis" {
			t.Errorf("%s: SHORTLINKS_REDIS_URL %q", name, env["SHORTLINKS_REDIS_URL"])
		}
		if env["SHORTLINKS_TRUSTED_PROXIES"] != subnet.String() {
			t.Errorf("%s: SHORTLINKS_TRUSTED_PROXIES %q, want the network %s", name, env["SHORTLINKS_TRUSTED_PROXIES"], subnet)
		}
		if env["SHORTLINKS_LOG_FORMAT"] != "json" || env["SHORTLINKS_METRICS_LISTEN"] != ":9090" {
			t.Errorf("%s: log format %q, metrics listen %q", name, env["SHORTLINKS_LOG_FORMAT"], env["SHORTLINKS_METRICS_LISTEN"])
		}
		if !codeKey.MatchString(env["SHORTLINKS_CODE_KEY"]) {
			t.Errorf("%s: SHORTLINKS_CODE_KEY %q is not 64 hex digits", name, env["SHORTLINKS_CODE_KEY"])
		}
		if _, ok := env["SENTRY_DSN"]; !ok {
			t.Errorf("%s: no SENTRY_DSN", name)
		}
		if s.Build == nil || s.Build.Dockerfile != "Dockerfile" || filepath.Clean(s.Build.Context) != mustAbs(t, repoPath()) {
			t.Errorf("%s: build %+v, want the repository's Dockerfile", name, s.Build)
		}
	}
	if got := []string(svc("migrate").Command); !slices.Equal(got, []string{"migrate"}) {
		t.Errorf("migrate runs %v", got)
	}
	if svc("migrate").Restart != "no" {
		t.Errorf("migrate restart %q: a one-shot job must not restart", svc("migrate").Restart)
	}
	checkDependsOn(t, svc("migrate"), "postgres-primary", types.ServiceConditionHealthy)
	for _, app := range []string{"app1", "app2"} {
		s := svc(app)
		checkDependsOn(t, s, "migrate", types.ServiceConditionCompletedSuccessfully)
		checkDependsOn(t, s, "redis", types.ServiceConditionHealthy)
		checkDependsOn(t, s, "postgres-replica", types.ServiceConditionHealthy)
		if len(s.Ports) != 0 {
			t.Errorf("%s publishes %v: traffic goes through the gateway", app, s.Ports)
		}
		if s.Logging == nil || s.Logging.Driver != "fluentd" || !strings.HasPrefix(s.Logging.Options["tag"], "shortlinks.") {
			t.Errorf("%s logging %+v, want the fluentd driver with a shortlinks.* tag", app, s.Logging)
		}
	}
	checkDependsOn(t, svc("postgres-replica"), "postgres-primary", types.ServiceConditionHealthy)

	// Persistent data in named volumes.
	for name, target := range map[string]string{
		"postgres-primary": "/var/lib/postgresql/data", "postgres-replica": "/var/lib/postgresql/data",
		"opensearch": "/usr/share/opensearch/data", "bugsink": "/data", "grafana": "/var/lib/grafana", "prometheus": "/prometheus",
	} {
		var ok bool
		for _, v := range svc(name).Volumes {
			ok = ok || (v.Type == types.VolumeTypeVolume && v.Target == target)
		}
		if !ok {
			t.Errorf("%s keeps %s outside a named volume", name, target)
		}
	}
	checkMount(t, svc("postgres-primary"), filepath.Join(composeDir, "postgres", "primary-init.sh"), "/docker-entrypoint-initdb.d/10-replication.sh")
	checkMount(t, svc("postgres-replica"), filepath.Join(composeDir, "postgres", "replica-entrypoint.sh"), "/usr/local/bin/replica-entrypoint.sh")
	for _, script := range []string{"primary-init.sh", "replica-entrypoint.sh"} {
		if fi, err := os.Stat(filepath.Join(composeDir, "postgres", script)); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable (%v)", script, err)
		}
	}

	// Fluent Bit: reachable by the Docker daemon on the host's loopback.
	fb := svc("fluent-bit")
	var forward bool
	for _, port := range fb.Ports {
		forward = forward || (port.Target == 24224 && port.Published == "24224" && port.HostIP == "127.0.0.1")
	}
	if !forward {
		t.Errorf("fluent-bit ports %+v: the fluentd logging driver needs 127.0.0.1:24224", fb.Ports)
	}
	if addr := svc("app1").Logging.Options["fluentd-address"]; addr != "127.0.0.1:24224" {
		t.Errorf("fluentd-address %q", addr)
	}
	checkMount(t, fb, filepath.Join(composeDir, "fluent-bit", "fluent-bit.conf"), "/fluent-bit/etc/fluent-bit.conf")

	// Bugsink answers the instances under the name they use in the DSN.
	bs := svc("bugsink")
	if h := bs.Environment["ALLOWED_HOSTS"]; h == nil || !slices.Contains(strings.Split(*h, ","), "bugsink") {
		t.Errorf("bugsink ALLOWED_HOSTS %v does not admit the host name bugsink", h)
	}
	if k := bs.Environment["SECRET_KEY"]; k == nil || len(*k) < 50 {
		t.Error("bugsink SECRET_KEY shorter than the 50 characters Bugsink requires")
	}

	// Every file mounted from this repository exists.
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s: %v", name, v.Source, err)
			}
		}
	}
}

func TestComposePrometheusAndGrafana(t *testing.T) {
	p := loadCompose(t)

	// Prometheus scrapes both instances on their metrics port and loads the
	// Shortlinks alerts from where compose mounts them.
	var prom struct {
		RuleFiles     []string `json:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			MetricsPath   string `json:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(mustRead(t, filepath.Join(composeDir, "prometheus", "prometheus.yml")), &prom); err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		if sc.JobName == "shortlinks" {
			for _, s := range sc.StaticConfigs {
				targets = append(targets, s.Targets...)
			}
		}
	}
	if !slices.Equal(targets, []string{"app1:9090", "app2:9090"}) {
		t.Errorf("job shortlinks scrapes %v, want app1:9090 and app2:9090", targets)
	}
	ps := p.Services["prometheus"]
	rules := checkMount(t, ps, repoPath("deploy", "prometheus", "alerts.yml"), "")
	var matched bool
	for _, glob := range prom.RuleFiles {
		ok, _ := filepath.Match(glob, rules)
		matched = matched || ok
	}
	if !matched {
		t.Errorf("rule_files %v do not load %s, where compose mounts deploy/prometheus/alerts.yml", prom.RuleFiles, rules)
	}

	// Grafana: the datasource under the uid the dashboard uses, and the
	// dashboards directory where the provider looks.
	var ds struct {
		Datasources []struct {
			UID  string `json:"uid"`
			Type string `json:"type"`
			URL  string `json:"url"`
		} `json:"datasources"`
	}
	if err := yaml.Unmarshal(mustRead(t, filepath.Join(composeDir, "grafana", "provisioning", "datasources", "prometheus.yaml")), &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds.Datasources) != 1 || ds.Datasources[0].UID != "prometheus" || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("datasources %+v, want uid prometheus at http://prometheus:9090", ds.Datasources)
	}
	var dp struct {
		Providers []struct {
			Options struct {
				Path string `json:"path"`
			} `json:"options"`
		} `json:"providers"`
	}
	if err := yaml.Unmarshal(mustRead(t, filepath.Join(composeDir, "grafana", "provisioning", "dashboards", "shortlinks.yaml")), &dp); err != nil {
		t.Fatal(err)
	}
	g := p.Services["grafana"]
	dashDir := checkMount(t, g, repoPath("deploy", "grafana", "dashboards"), "")
	if len(dp.Providers) != 1 || dp.Providers[0].Options.Path != dashDir {
		t.Errorf("dashboard provider %+v does not read %s, where compose mounts deploy/grafana/dashboards", dp.Providers, dashDir)
	}
	checkMount(t, g, filepath.Join(composeDir, "grafana", "provisioning"), "/etc/grafana/provisioning")
}

// checkMount checks that s bind-mounts source (a repository path) at target
// (any target when empty) and returns the target.
func checkMount(t *testing.T, s types.ServiceConfig, source, target string) string {
	t.Helper()
	abs := mustAbs(t, source)
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Source == abs && (target == "" || v.Target == target) {
			if !v.ReadOnly {
				t.Errorf("%s mounts %s writable", s.Name, source)
			}
			return v.Target
		}
	}
	t.Errorf("%s does not mount %s at %q", s.Name, source, target)
	return ""
}

func checkDependsOn(t *testing.T, s types.ServiceConfig, on, condition string) {
	t.Helper()
	if d, ok := s.DependsOn[on]; !ok || d.Condition != condition {
		t.Errorf("%s depends on %s with %+v, want %s", s.Name, on, d, condition)
	}
}

func checkDatabaseURL(t *testing.T, service, raw, host string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "postgres" || u.Hostname() != host || u.Path != "/shortlinks" || u.User.Username() != "shortlinks" {
		t.Errorf("%s: database URL %q, want postgres://shortlinks@%s/shortlinks", service, raw, host)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
