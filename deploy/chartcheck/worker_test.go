package chartcheck

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestAnalyticsWorker: with Redis, the chart runs 'shortlinks worker' pods
// of their own, which the servers' Service does not send traffic to; with
// analytics off, or without Redis, none.
func TestAnalyticsWorker(t *testing.T) {
	r := render(t, nil, withDependencies...)
	name := releaseName + "-worker"
	d := get[*appsv1.Deployment](t, r, name)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("worker replicas %v, want 2", d.Spec.Replicas)
	}
	spec := d.Spec.Template.Spec
	checkPodSecurity(t, "worker", spec, 65532)
	c := spec.Containers[0]
	if !slices.Equal(c.Args, []string{"worker"}) {
		t.Errorf("worker args %v", c.Args)
	}
	env := envByName(c.Env)
	if env["SHORTLINKS_WORKER_LISTEN"].Value != ":8081" || env["SHORTLINKS_REDIS_URL"].Value == "" || env["SHORTLINKS_DATABASE_URL"].ValueFrom == nil {
		t.Errorf("worker environment %v lacks its listener, Redis or the database", env)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Error("worker probes are not /healthz and /readyz")
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8081 {
		t.Errorf("worker ports %v", c.Ports)
	}
	if !labels.SelectorFromSet(d.Spec.Selector.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Error("the worker Deployment does not select its own pods")
	}
	svc := get[*corev1.Service](t, r, releaseName)
	if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Error("the servers' Service would send requests to the worker pods")
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g <= 15 {
		t.Errorf("terminationGracePeriodSeconds %v leaves the worker no time to finish its batch", g)
	}
	cm := get[*corev1.ConfigMap](t, r, releaseName)
	if cm.Data["SHORTLINKS_ANALYTICS"] != "true" {
		t.Errorf("SHORTLINKS_ANALYTICS = %q", cm.Data["SHORTLINKS_ANALYTICS"])
	}

	for what, set := range map[string][]string{
		"analytics off": append(slices.Clone(withDependencies), "analytics.enabled=false"),
		"worker off":    append(slices.Clone(withDependencies), "worker.enabled=false"),
		"no Redis":      nil,
	} {
		r := render(t, nil, set...)
		if n := len(all[*appsv1.Deployment](r)); n != 1 {
			t.Errorf("%s: %d Deployments, want the servers' alone", what, n)
		}
		if what == "analytics off" {
			if v := get[*corev1.ConfigMap](t, r, releaseName).Data["SHORTLINKS_ANALYTICS"]; v != "false" {
				t.Errorf("analytics off: SHORTLINKS_ANALYTICS = %q", v)
			}
		}
	}
	if r := render(t, nil, "worker.redisInSecret=true"); len(all[*appsv1.Deployment](r)) != 2 {
		t.Error("worker.redisInSecret=true renders no worker")
	}
}

// TestAnalyticsWorkerScraped: the worker pods' metrics are scraped as the
// servers' are, through a Service of their own and, when ServiceMonitors
// are on, one that names the job shortlinks-worker (as the compose stack
// does); the servers' ServiceMonitor keeps selecting the servers alone.
func TestAnalyticsWorkerScraped(t *testing.T) {
	r := render(t, nil, append(slices.Clone(withDependencies), "metrics.serviceMonitor.enabled=true")...)
	name := releaseName + "-worker"
	d := get[*appsv1.Deployment](t, r, name)
	wsvc := get[*corev1.Service](t, r, name)
	if !labels.SelectorFromSet(wsvc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("the worker Service %v does not select the worker pods %v", wsvc.Spec.Selector, d.Spec.Template.Labels)
	}
	server := get[*appsv1.Deployment](t, r, releaseName)
	if labels.SelectorFromSet(wsvc.Spec.Selector).Matches(labels.Set(server.Spec.Template.Labels)) {
		t.Error("the worker Service selects the server pods")
	}
	p := servicePort(wsvc, "metrics")
	if p == nil || p.TargetPort.String() != "worker" || p.Port != 8081 {
		t.Errorf("worker Service metrics port %+v, want 8081 to the container's worker port", p)
	}

	svc := get[*corev1.Service](t, r, releaseName)
	for _, c := range []struct {
		sm, job   string
		want, not *corev1.Service
	}{
		{releaseName, "", svc, wsvc},
		{name, "shortlinks-worker", wsvc, svc},
	} {
		sm := get[*ServiceMonitor](t, r, c.sm)
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		if !sel.Matches(labels.Set(c.want.Labels)) || sel.Matches(labels.Set(c.not.Labels)) {
			t.Errorf("ServiceMonitor %s selector %v must select Service %s only", c.sm, sel, c.want.Name)
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor %s endpoints %+v, want port metrics, path /metrics", c.sm, sm.Spec.Endpoints)
			continue
		}
		if c.job == "" {
			continue
		}
		job := ""
		for _, rl := range sm.Spec.Endpoints[0].Relabelings {
			if rl.TargetLabel == "job" && rl.Replacement != nil && (rl.Action == "" || rl.Action == "replace") {
				job = *rl.Replacement
			}
		}
		if job != c.job {
			t.Errorf("ServiceMonitor %s names the job %q, want %q", c.sm, job, c.job)
		}
	}

	// No worker, nothing of it to scrape.
	r = render(t, nil, "metrics.serviceMonitor.enabled=true")
	for _, k := range r.kinds() {
		if k == "Service/"+name || k == "ServiceMonitor/"+name {
			t.Errorf("without a worker the chart renders %s", k)
		}
	}
}
