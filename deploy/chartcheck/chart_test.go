package chartcheck

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const (
	gatewayName  = releaseName + "-gateway"
	hookAnnot    = "helm.sh/hook"
	weightAnnot  = "helm.sh/hook-weight"
	deleteAnnot  = "helm.sh/hook-delete-policy"
	issuerAnnot  = "cert-manager.io/cluster-issuer"
	productionVF = "values-production.yaml"
)

// A chart-made Secret, as someone trying the chart would set it.
var chartSecret = []string{
	"secret.create=true",
	"secret.databaseURL=postgres://shortlinks:pw@db:5432/shortlinks",
	"secret.databaseReplicaURLs=postgres://shortlinks:pw@replica:5432/shortlinks",
	"secret.redisURL=redis://redis:6379/0",
	"secret.codeKey=" + strings.Repeat("ab", 32),
	"secret.sentryDSN=https://key@errors.example/1",
}

func TestStrictDecodingRejectsUnknownAndDuplicateFields(t *testing.T) {
	// The decoder is what makes every other test here meaningful: it must
	// refuse what the API server would drop or reject.
	for name, doc := range map[string]string{
		"unknown field":     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 3\n",
		"misplaced field":   "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports: [{port: 80, targetport: 8080}]\n",
		"duplicate key":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  A: \"1\"\n  A: \"2\"\n",
		"unknown CRD field": "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x}\nspec:\n  endpoints: [{port: metrics, intervall: 5s}]\n",
		"unknown kind":      "apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: x}\n",
	} {
		if _, err := decode("test", doc); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	if _, err := decode("test", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {A: \"1\"}\n"); err != nil {
		t.Errorf("valid ConfigMap: %v", err)
	}
}

func TestKubeVersion(t *testing.T) {
	// topologySpreadConstraints[].matchLabelKeys needs Kubernetes 1.27.
	ch := mustRead(t, chartDir+"/Chart.yaml")
	var meta struct {
		AppVersion  string `json:"appVersion"`
		KubeVersion string `json:"kubeVersion"`
	}
	if err := yaml.Unmarshal(ch, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.AppVersion == "" {
		t.Error("Chart.yaml has no appVersion")
	}
	if meta.KubeVersion != ">=1.27.0-0" {
		t.Errorf("kubeVersion %q, want >=1.27.0-0", meta.KubeVersion)
	}
}

func TestDefaultValues(t *testing.T) {
	r := render(t, nil)

	want := []string{
		"ConfigMap/shortlinks", "Deployment/shortlinks", "HorizontalPodAutoscaler/shortlinks",
		"Job/shortlinks-migrate", "PodDisruptionBudget/shortlinks", "Service/shortlinks",
		"ServiceAccount/shortlinks",
	}
	if got := r.kinds(); !slices.Equal(got, want) {
		t.Errorf("rendered %v\nwant     %v", got, want)
	}

	d := get[*appsv1.Deployment](t, r, releaseName)
	checkServer(t, r, d)
	if d.Spec.Replicas != nil {
		t.Errorf("Deployment sets replicas %d although the autoscaler owns the count", *d.Spec.Replicas)
	}

	hpa := get[*autoscalingv2.HorizontalPodAutoscaler](t, r, releaseName)
	checkHPA(t, hpa, "Deployment", releaseName, 3, 10, 70)

	pdb := get[*policyv1.PodDisruptionBudget](t, r, releaseName)
	checkPDB(t, pdb, d.Spec.Template.Labels)

	// No Secret is made: the pods and the migration read the one the
	// operator created, named after the release.
	if s := all[*corev1.Secret](r); len(s) != 0 {
		t.Errorf("default values render %d Secrets, want none", len(s))
	}
	if got := secretRefs(d.Spec.Template.Spec); !slices.Equal(got, []string{releaseName}) {
		t.Errorf("Deployment reads Secrets %v, want [%s]", got, releaseName)
	}
	job := get[*batchv1.Job](t, r, releaseName+"-migrate")
	checkMigration(t, r, job, d)
	if got := secretRefs(job.Spec.Template.Spec); !slices.Equal(got, []string{releaseName}) {
		t.Errorf("migration Job reads Secrets %v, want [%s]", got, releaseName)
	}
	if !strings.Contains(r.Notes, "kubectl -n "+namespace+" get secret "+releaseName) {
		t.Errorf("NOTES.txt does not say which Secret to create:\n%s", r.Notes)
	}
}

func TestProductionValues(t *testing.T) {
	r := render(t, []string{productionVF})

	want := []string{
		"ConfigMap/shortlinks", "ConfigMap/shortlinks-dashboard", "ConfigMap/shortlinks-gateway",
		"Deployment/shortlinks", "Deployment/shortlinks-gateway",
		"HorizontalPodAutoscaler/shortlinks", "HorizontalPodAutoscaler/shortlinks-gateway",
		"Ingress/shortlinks", "Job/shortlinks-migrate",
		"PodDisruptionBudget/shortlinks", "PodDisruptionBudget/shortlinks-gateway",
		"PrometheusRule/shortlinks", "Service/shortlinks", "Service/shortlinks-gateway",
		"ServiceAccount/shortlinks", "ServiceMonitor/shortlinks",
	}
	if got := r.kinds(); !slices.Equal(got, want) {
		t.Errorf("rendered %v\nwant     %v", got, want)
	}

	d := get[*appsv1.Deployment](t, r, releaseName)
	checkServer(t, r, d)
	checkHPA(t, get[*autoscalingv2.HorizontalPodAutoscaler](t, r, releaseName), "Deployment", releaseName, 3, 10, 70)
	checkPDB(t, get[*policyv1.PodDisruptionBudget](t, r, releaseName), d.Spec.Template.Labels)

	env := configEnv(t, r)
	if env["SHORTLINKS_BASE_URL"] != "https://sho.rt" || env["SHORTLINKS_TRUSTED_PROXIES"] != "10.0.0.0/8" {
		t.Errorf("ConfigMap base URL %q, trusted proxies %q", env["SHORTLINKS_BASE_URL"], env["SHORTLINKS_TRUSTED_PROXIES"])
	}

	// The existing Secret, for both the pods and the migration.
	if s := all[*corev1.Secret](r); len(s) != 0 {
		t.Errorf("production values render %d Secrets, want none", len(s))
	}
	job := get[*batchv1.Job](t, r, releaseName+"-migrate")
	checkMigration(t, r, job, d)
	for what, spec := range map[string]corev1.PodSpec{"Deployment": d.Spec.Template.Spec, "Job": job.Spec.Template.Spec} {
		if got := secretRefs(spec); !slices.Equal(got, []string{"shortlinks-env"}) {
			t.Errorf("%s reads Secrets %v, want [shortlinks-env]", what, got)
		}
	}

	// Ingress → gateway Service → gateway pods → server Service.
	gsvc := get[*corev1.Service](t, r, gatewayName)
	ing := get[*networkingv1.Ingress](t, r, releaseName)
	if got := ing.Annotations[issuerAnnot]; got != "letsencrypt" {
		t.Errorf("Ingress %s = %q, want letsencrypt", issuerAnnot, got)
	}
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" {
		t.Errorf("Ingress class %v, want nginx", ing.Spec.IngressClassName)
	}
	if len(ing.Spec.TLS) != 1 || !slices.Equal(ing.Spec.TLS[0].Hosts, []string{"sho.rt"}) || ing.Spec.TLS[0].SecretName != "sho-rt-tls" {
		t.Errorf("Ingress TLS %+v, want sho.rt in sho-rt-tls", ing.Spec.TLS)
	}
	for _, rule := range ing.Spec.Rules {
		for _, p := range rule.HTTP.Paths {
			b := p.Backend.Service
			if b == nil || b.Name != gsvc.Name || b.Port.Number != gsvc.Spec.Ports[0].Port {
				t.Errorf("Ingress rule %s routes to %+v, want the gateway Service %s:%d", rule.Host, b, gsvc.Name, gsvc.Spec.Ports[0].Port)
			}
		}
	}
	checkGateway(t, r)

	// Monitoring: the ServiceMonitor scrapes the server Service's metrics port.
	svc := get[*corev1.Service](t, r, releaseName)
	sm := get[*ServiceMonitor](t, r, releaseName)
	sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(labels.Set(svc.Labels)) || sel.Matches(labels.Set(gsvc.Labels)) {
		t.Errorf("ServiceMonitor selector %v must select the server Service %v only", sel, svc.Labels)
	}
	if sm.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("ServiceMonitor labels %v lack release=kube-prometheus-stack", sm.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %+v, want port metrics, path /metrics", sm.Spec.Endpoints)
	}
	if sm.Spec.JobLabel == "" || svc.Labels[sm.Spec.JobLabel] != "shortlinks" {
		t.Errorf("ServiceMonitor jobLabel %q does not name job shortlinks (Service labels %v)", sm.Spec.JobLabel, svc.Labels)
	}
	if servicePort(svc, "metrics") == nil {
		t.Errorf("Service %s has no metrics port", svc.Name)
	}

	// The rule and the dashboard are the files under deploy/, unchanged.
	var alerts struct {
		Groups []RuleGroup `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(mustRead(t, repoPath("deploy", "prometheus", "alerts.yml")), &alerts); err != nil {
		t.Fatalf("deploy/prometheus/alerts.yml: %v", err)
	}
	pr := get[*PrometheusRule](t, r, releaseName)
	if len(alerts.Groups) == 0 || fmt.Sprint(pr.Spec.Groups) != fmt.Sprint(alerts.Groups) {
		t.Errorf("PrometheusRule groups differ from deploy/prometheus/alerts.yml:\n%v\n%v", pr.Spec.Groups, alerts.Groups)
	}
	dash := get[*corev1.ConfigMap](t, r, releaseName+"-dashboard")
	if got, want := dash.Data["shortlinks.json"], string(mustRead(t, repoPath("deploy", "grafana", "dashboards", "shortlinks.json"))); got != want {
		t.Errorf("dashboard ConfigMap differs from deploy/grafana/dashboards/shortlinks.json")
	}
	if dash.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v lack grafana_dashboard=1", dash.Labels)
	}
}

func TestChartMadeSecret(t *testing.T) {
	r := render(t, nil, chartSecret...)

	sec := get[*corev1.Secret](t, r, releaseName)
	hookSec := get[*corev1.Secret](t, r, releaseName+"-migrate")
	wantKeys := []string{"SENTRY_DSN", "SHORTLINKS_CODE_KEY", "SHORTLINKS_DATABASE_REPLICA_URLS", "SHORTLINKS_DATABASE_URL", "SHORTLINKS_REDIS_URL"}
	if got := slices.Sorted(maps.Keys(sec.Data)); !slices.Equal(got, wantKeys) {
		t.Errorf("Secret keys %v, want %v", got, wantKeys)
	}
	if string(sec.Data["SHORTLINKS_DATABASE_URL"]) != "postgres://shortlinks:pw@db:5432/shortlinks" {
		t.Errorf("Secret SHORTLINKS_DATABASE_URL = %q", sec.Data["SHORTLINKS_DATABASE_URL"])
	}
	if !maps.EqualFunc(sec.Data, hookSec.Data, bytes.Equal) {
		t.Error("the migration's Secret holds other data than the release's")
	}
	// The release's Secret is an ordinary resource (kept, updated, deleted
	// with the release); the migration's copy exists before the Job does.
	if _, ok := sec.Annotations[hookAnnot]; ok {
		t.Errorf("release Secret is a hook (%v)", sec.Annotations)
	}
	job := get[*batchv1.Job](t, r, releaseName+"-migrate")
	if hookSec.Annotations[hookAnnot] != job.Annotations[hookAnnot] {
		t.Errorf("migration Secret hook %q, Job hook %q: they must run in the same phases", hookSec.Annotations[hookAnnot], job.Annotations[hookAnnot])
	}
	if hookWeight(t, hookSec.Annotations) >= hookWeight(t, job.Annotations) {
		t.Errorf("migration Secret weight %s is not below the Job's %s", hookSec.Annotations[weightAnnot], job.Annotations[weightAnnot])
	}
	if p := policies(hookSec.Annotations); !slices.Contains(p, "hook-succeeded") || !slices.Contains(p, "before-hook-creation") {
		t.Errorf("migration Secret delete policy %v, want before-hook-creation and hook-succeeded", p)
	}

	d := get[*appsv1.Deployment](t, r, releaseName)
	checkMigration(t, r, job, d)
	if got := secretRefs(d.Spec.Template.Spec); !slices.Equal(got, []string{releaseName}) {
		t.Errorf("Deployment reads Secrets %v, want [%s]", got, releaseName)
	}
	if got := secretRefs(job.Spec.Template.Spec); !slices.Equal(got, []string{releaseName + "-migrate"}) {
		t.Errorf("migration Job reads Secrets %v, want [%s-migrate]", got, releaseName)
	}
	if d.Spec.Template.Annotations["checksum/secret"] == "" {
		t.Error("pods do not roll when the chart-made Secret changes (no checksum/secret)")
	}
}

func TestAutoscalingOff(t *testing.T) {
	r := render(t, []string{productionVF}, "autoscaling.enabled=false", "replicaCount=4", "gateway.autoscaling.enabled=false", "gateway.replicaCount=3")
	if h := all[*autoscalingv2.HorizontalPodAutoscaler](r); len(h) != 0 {
		t.Errorf("%d autoscalers rendered with autoscaling off", len(h))
	}
	for name, want := range map[string]int32{releaseName: 4, gatewayName: 3} {
		d := get[*appsv1.Deployment](t, r, name)
		if d.Spec.Replicas == nil || *d.Spec.Replicas != want {
			t.Errorf("Deployment %s replicas %v, want %d", name, d.Spec.Replicas, want)
		}
	}
}

func TestRefusedValues(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  []string
		want string
	}{
		{"chart secret without database", []string{"secret.create=true"}, "secret.databaseURL is required"},
		{"short code key", []string{"secret.create=true", "secret.databaseURL=postgres://db/x", "secret.codeKey=abc"}, "64 hex digits"},
		{"grace period within drain and shutdown", []string{"terminationGracePeriodSeconds=20"}, "must be longer than"},
		{"autoscaler bounds reversed", []string{"autoscaling.minReplicas=5", "autoscaling.maxReplicas=4"}, "minReplicas must not exceed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tryRender(nil, tt.set...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("render error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// checkServer checks the server Deployment and what it refers to.
func checkServer(t *testing.T, r *rendered, d *appsv1.Deployment) {
	t.Helper()
	spec := d.Spec.Template.Spec
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Fatalf("Deployment selector %v does not match its pods %v (%v)", d.Spec.Selector, d.Spec.Template.Labels, err)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("rolling update %+v may take pods away before new ones are ready", ru)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	if !slices.Equal(c.Args, []string{"serve"}) || len(c.Command) != 0 {
		t.Errorf("container command %v args %v, want the image's entrypoint with [serve]", c.Command, c.Args)
	}
	if !strings.HasPrefix(c.Image, "ghcr.io/shortlinks/shortlinks:") {
		t.Errorf("image %q", c.Image)
	}

	env := configEnv(t, r)
	httpPort := containerPort(t, c, "http")
	metricsPort := containerPort(t, c, "metrics")
	if env["SHORTLINKS_LISTEN"] != fmt.Sprintf(":%d", httpPort) {
		t.Errorf("SHORTLINKS_LISTEN %q but the http port is %d", env["SHORTLINKS_LISTEN"], httpPort)
	}
	if env["SHORTLINKS_METRICS_LISTEN"] != fmt.Sprintf(":%d", metricsPort) {
		t.Errorf("SHORTLINKS_METRICS_LISTEN %q but the metrics port is %d", env["SHORTLINKS_METRICS_LISTEN"], metricsPort)
	}
	if env["SHORTLINKS_LOG_FORMAT"] != "json" {
		t.Errorf("SHORTLINKS_LOG_FORMAT %q, want json", env["SHORTLINKS_LOG_FORMAT"])
	}
	if got := configMapRefs(spec); !slices.Equal(got, []string{releaseName}) {
		t.Errorf("envFrom ConfigMaps %v, want [%s]", got, releaseName)
	}

	// Probes: started and alive on /healthz, ready on /readyz, all on the http port.
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startup", c.StartupProbe, "/healthz"},
		{"liveness", c.LivenessProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe missing or not HTTP", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe GET %s on %s, want %s on http", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
	}

	// SIGTERM → drain delay → shutdown timeout, all before SIGKILL.
	drain, err1 := time.ParseDuration(env["SHORTLINKS_DRAIN_DELAY"])
	shutdown, err2 := time.ParseDuration(env["SHORTLINKS_SHUTDOWN_TIMEOUT"])
	if err1 != nil || err2 != nil || drain <= 0 || shutdown <= 0 {
		t.Errorf("drain delay %q, shutdown timeout %q", env["SHORTLINKS_DRAIN_DELAY"], env["SHORTLINKS_SHUTDOWN_TIMEOUT"])
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= drain+shutdown {
		t.Errorf("terminationGracePeriodSeconds %v is not longer than drain %v + shutdown %v", g, drain, shutdown)
	}

	checkResources(t, "server", c.Resources, true)
	checkPodSecurity(t, "server", spec, 65532)

	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("the server pods mount a service account token they never use")
	}
	sa := get[*corev1.ServiceAccount](t, r, spec.ServiceAccountName)
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("ServiceAccount automounts its token")
	}

	// Spread over zones and nodes.
	var keys []string
	for _, tsc := range spec.TopologySpreadConstraints {
		keys = append(keys, tsc.TopologyKey)
		s, err := metav1.LabelSelectorAsSelector(tsc.LabelSelector)
		if err != nil || !s.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("spread over %s selects %v, not the server pods", tsc.TopologyKey, tsc.LabelSelector)
		}
		if tsc.MaxSkew != 1 {
			t.Errorf("spread over %s maxSkew %d", tsc.TopologyKey, tsc.MaxSkew)
		}
	}
	if !slices.Equal(keys, []string{"topology.kubernetes.io/zone", "kubernetes.io/hostname"}) {
		t.Errorf("spread over %v, want zone and hostname", keys)
	}

	// The Service selects exactly these pods and exposes both ports.
	svc := get[*corev1.Service](t, r, releaseName)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("Service selector %v does not match the pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
	for _, name := range []string{"http", "metrics"} {
		p := servicePort(svc, name)
		if p == nil || p.TargetPort.String() != name {
			t.Errorf("Service port %s: %+v", name, p)
		}
	}

	// Every volume mounted exists; the only writable place is an emptyDir.
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		if _, ok := vols[m.Name]; !ok {
			t.Errorf("mount of undefined volume %s", m.Name)
		}
	}
}

func checkMigration(t *testing.T, r *rendered, job *batchv1.Job, d *appsv1.Deployment) {
	t.Helper()
	if got := job.Annotations[hookAnnot]; got != "pre-install,pre-upgrade" {
		t.Errorf("migration Job hook %q, want pre-install,pre-upgrade", got)
	}
	if p := policies(job.Annotations); !slices.Contains(p, "before-hook-creation") {
		t.Errorf("migration Job delete policy %v: a second upgrade could not create it again", p)
	}
	if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit < 1 {
		t.Errorf("backoffLimit %v", job.Spec.BackoffLimit)
	}
	if job.Spec.ActiveDeadlineSeconds == nil {
		t.Error("no activeDeadlineSeconds: a hung migration would hold the upgrade forever")
	}
	spec := job.Spec.Template.Spec
	if spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q", spec.RestartPolicy)
	}
	c := spec.Containers[0]
	if !slices.Equal(c.Args, []string{"migrate"}) || c.Image != d.Spec.Template.Spec.Containers[0].Image {
		t.Errorf("migration runs %s %v, want %s migrate", c.Image, c.Args, d.Spec.Template.Spec.Containers[0].Image)
	}
	// The Job runs before this release's ConfigMap and ServiceAccount exist
	// (pre-install), so it may refer to neither.
	if refs := configMapRefs(spec); len(refs) != 0 {
		t.Errorf("migration Job reads ConfigMaps %v, which do not exist yet at pre-install", refs)
	}
	for _, sa := range all[*corev1.ServiceAccount](r) {
		if spec.ServiceAccountName == sa.Name {
			t.Errorf("migration Job runs as ServiceAccount %s, which the chart creates after it", sa.Name)
		}
	}
	// ... but gets the server's settings all the same.
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if want := configEnv(t, r); !maps.Equal(env, want) {
		t.Errorf("migration env %v\ndiffers from the server's %v", env, want)
	}
	checkResources(t, "migration", c.Resources, false)
	checkPodSecurity(t, "migration", spec, 65532)
}

func checkGateway(t *testing.T, r *rendered) {
	t.Helper()
	d := get[*appsv1.Deployment](t, r, gatewayName)
	spec := d.Spec.Template.Spec
	c := spec.Containers[0]
	port := containerPort(t, c, "http")
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/gateway/healthz" || p.HTTPGet.Port.String() != "http" {
			t.Errorf("gateway %s probe %+v, want GET /gateway/healthz on http", name, p)
		}
	}
	checkResources(t, "gateway", c.Resources, true)
	checkPodSecurity(t, "gateway", spec, 101)
	if port < 1024 {
		var ok bool
		for _, s := range spec.SecurityContext.Sysctls {
			ok = ok || (s.Name == "net.ipv4.ip_unprivileged_port_start" && s.Value == "0")
		}
		if !ok {
			t.Errorf("a non-root nginx cannot bind port %d without net.ipv4.ip_unprivileged_port_start", port)
		}
	}

	// Its configuration: deploy/nginx/shortlinks.conf byte for byte, and
	// the upstream file pointing at the server Service.
	cm := get[*corev1.ConfigMap](t, r, gatewayName)
	if got, want := cm.Data["shortlinks.conf"], string(mustRead(t, repoPath("deploy", "nginx", "shortlinks.conf"))); got != want {
		t.Errorf("gateway shortlinks.conf differs from deploy/nginx/shortlinks.conf:\n%q\n%q", got, want)
	}
	svc := get[*corev1.Service](t, r, releaseName)
	wantUp := fmt.Sprintf("server %s.%s.svc.cluster.local:%d;\n", svc.Name, namespace, servicePort(svc, "http").Port)
	if got := cm.Data["shortlinks-upstreams.conf"]; got != wantUp {
		t.Errorf("shortlinks-upstreams.conf = %q, want %q", got, wantUp)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.SubPath
	}
	if mounts["/etc/nginx/conf.d/default.conf"] != "shortlinks.conf" || mounts["/etc/nginx/shortlinks-upstreams.conf"] != "shortlinks-upstreams.conf" {
		t.Errorf("gateway mounts %v", mounts)
	}
	if d.Spec.Template.Annotations["checksum/config"] == "" {
		t.Error("gateway pods do not roll when their configuration changes")
	}

	gsvc := get[*corev1.Service](t, r, gatewayName)
	if !labels.SelectorFromSet(gsvc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("gateway Service selector %v does not match its pods", gsvc.Spec.Selector)
	}
	server := get[*appsv1.Deployment](t, r, releaseName)
	if labels.SelectorFromSet(gsvc.Spec.Selector).Matches(labels.Set(server.Spec.Template.Labels)) {
		t.Error("gateway Service also selects the server pods")
	}
	if gsvc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("gateway Service targets %s", gsvc.Spec.Ports[0].TargetPort.String())
	}
	checkHPA(t, get[*autoscalingv2.HorizontalPodAutoscaler](t, r, gatewayName), "Deployment", gatewayName, 2, 6, 70)
	checkPDB(t, get[*policyv1.PodDisruptionBudget](t, r, gatewayName), d.Spec.Template.Labels)
}

func checkHPA(t *testing.T, h *autoscalingv2.HorizontalPodAutoscaler, kind, name string, lo, hi, cpu int32) {
	t.Helper()
	if h.Spec.ScaleTargetRef.Kind != kind || h.Spec.ScaleTargetRef.Name != name || h.Spec.ScaleTargetRef.APIVersion != "apps/v1" {
		t.Errorf("HPA %s scales %+v, want %s %s", h.Name, h.Spec.ScaleTargetRef, kind, name)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != lo || h.Spec.MaxReplicas != hi {
		t.Errorf("HPA %s min %v max %d, want %d..%d", h.Name, h.Spec.MinReplicas, h.Spec.MaxReplicas, lo, hi)
	}
	if len(h.Spec.Metrics) != 1 {
		t.Fatalf("HPA %s has %d metrics, want CPU only", h.Name, len(h.Spec.Metrics))
	}
	m := h.Spec.Metrics[0]
	if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource.Name != corev1.ResourceCPU ||
		m.Resource.Target.Type != autoscalingv2.UtilizationMetricType ||
		m.Resource.Target.AverageUtilization == nil || *m.Resource.Target.AverageUtilization != cpu {
		t.Errorf("HPA %s metric %+v, want CPU at %d%%", h.Name, m, cpu)
	}
}

func checkPDB(t *testing.T, p *policyv1.PodDisruptionBudget, podLabels map[string]string) {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(podLabels)) {
		t.Errorf("PDB %s selects %v, not the pods %v", p.Name, p.Spec.Selector, podLabels)
	}
	if p.Spec.MaxUnavailable == nil || p.Spec.MaxUnavailable.IntValue() != 1 || p.Spec.MinAvailable != nil {
		t.Errorf("PDB %s maxUnavailable %v minAvailable %v, want maxUnavailable 1", p.Name, p.Spec.MaxUnavailable, p.Spec.MinAvailable)
	}
}

func checkResources(t *testing.T, what string, r corev1.ResourceRequirements, cpuScaled bool) {
	t.Helper()
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := r.Requests[name]; !ok || q.Cmp(resource.MustParse("1m")) < 0 {
			t.Errorf("%s: no %s request (the scheduler and the autoscaler need it)", what, name)
		}
	}
	if q, ok := r.Limits[corev1.ResourceMemory]; !ok || q.Cmp(r.Requests[corev1.ResourceMemory]) < 0 {
		t.Errorf("%s: memory limit %v below request %v", what, r.Limits.Memory(), r.Requests.Memory())
	}
	if _, ok := r.Limits[corev1.ResourceCPU]; ok && cpuScaled {
		t.Errorf("%s: a CPU limit throttles a pod the autoscaler scales on CPU", what)
	}
}

func checkPodSecurity(t *testing.T, what string, spec corev1.PodSpec, uid int64) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != uid {
		t.Errorf("%s: pod securityContext %+v, want runAsNonRoot as uid %d", what, psc, uid)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccomp profile is not RuntimeDefault", what)
	}
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s/%s: no securityContext", what, c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s/%s: root filesystem is writable", what, c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s/%s: privilege escalation allowed", what, c.Name)
		case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0:
			t.Errorf("%s/%s: capabilities %+v, want all dropped and none added", what, c.Name, sc.Capabilities)
		case sc.Privileged != nil && *sc.Privileged:
			t.Errorf("%s/%s: privileged", what, c.Name)
		}
	}
}

// configEnv is the data of the server's ConfigMap.
func configEnv(t *testing.T, r *rendered) map[string]string {
	t.Helper()
	return get[*corev1.ConfigMap](t, r, releaseName).Data
}

func containerPort(t *testing.T, c corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port %q", c.Name, name)
	return 0
}

func servicePort(s *corev1.Service, name string) *corev1.ServicePort {
	for i := range s.Spec.Ports {
		if s.Spec.Ports[i].Name == name {
			return &s.Spec.Ports[i]
		}
	}
	return nil
}

func secretRefs(spec corev1.PodSpec) []string {
	var names []string
	for _, c := range spec.Containers {
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				names = append(names, e.SecretRef.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				names = append(names, e.ValueFrom.SecretKeyRef.Name)
			}
		}
	}
	return names
}

func configMapRefs(spec corev1.PodSpec) []string {
	var names []string
	for _, c := range spec.Containers {
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil {
				names = append(names, e.ConfigMapRef.Name)
			}
		}
	}
	return names
}

func hookWeight(t *testing.T, a map[string]string) int {
	t.Helper()
	var w int
	if _, err := fmt.Sscan(a[weightAnnot], &w); err != nil {
		t.Fatalf("hook weight %q: %v", a[weightAnnot], err)
	}
	return w
}

func policies(a map[string]string) []string {
	return strings.Split(a[deleteAnnot], ",")
}
