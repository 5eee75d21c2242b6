package chartcheck

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const pgCluster = releaseName + "-pg"

// The chart's own database and Redis, as someone without either would set
// them: a chart-made Secret holding only the code key.
var withDependencies = []string{
	"secret.create=true",
	"secret.codeKey=" + strings.Repeat("cd", 32),
	"postgresql.cloudnativepg.enabled=true",
	"postgresql.cloudnativepg.backup.enabled=true",
	"postgresql.cloudnativepg.backup.destinationPath=s3://backups/shortlinks/",
	"postgresql.cloudnativepg.backup.endpointURL=http://minio:9000",
	"postgresql.cloudnativepg.backup.s3Credentials.secretName=backup-keys",
	"postgresql.cloudnativepg.parameters.max_connections=300",
	"redis.sentinel.enabled=true",
}

func TestCRDSchemaValidation(t *testing.T) {
	// The pinned schemas must refuse what the API server would refuse, and
	// what it would silently drop.
	const cluster = "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: x}\nspec:\n"
	for name, doc := range map[string]string{
		"unknown field":         cluster + "  instances: 3\n  storage: {size: 1Gi}\n  instance: 3\n",
		"misplaced field":       cluster + "  instances: 3\n  storage: {size: 1Gi}\n  synchronous: {method: any, number: 1}\n",
		"bad enum":              cluster + "  instances: 3\n  storage: {size: 1Gi}\n  postgresql: {synchronous: {method: all, number: 1}}\n",
		"wrong type":            cluster + "  instances: three\n  storage: {size: 1Gi}\n",
		"CEL rule":              cluster + "  instances: 3\n  storage: {size: 1Gi}\n  postgresql: {synchronous: {method: any, number: 0}}\n",
		"missing required":      "apiVersion: postgresql.cnpg.io/v1\nkind: ScheduledBackup\nmetadata: {name: x}\nspec: {schedule: '0 0 0 * * *'}\n",
		"object store unknown":  "apiVersion: barmancloud.cnpg.io/v1\nkind: ObjectStore\nmetadata: {name: x}\nspec:\n  configuration: {destinationPath: 's3://b/', wall: {compression: gzip}}\n",
		"object store bad enum": "apiVersion: barmancloud.cnpg.io/v1\nkind: ObjectStore\nmetadata: {name: x}\nspec:\n  configuration: {destinationPath: 's3://b/', wal: {compression: zip}}\n",
	} {
		if _, err := decode("test", doc); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, strings.SplitN(err.Error(), "\n", 3)[1])
		}
	}
	if _, err := decode("test", cluster+"  instances: 3\n  storage: {size: 1Gi}\n  postgresql: {synchronous: {method: any, number: 1}}\n"); err != nil {
		t.Errorf("valid Cluster: %v", err)
	}
}

func TestNoDependenciesByDefault(t *testing.T) {
	r := render(t, nil)
	for _, o := range r.Objects {
		if _, ok := o.Obj.(*CustomResource); ok {
			t.Errorf("default values render %s/%s", o.Kind, o.Name)
		}
		if _, ok := o.Obj.(*appsv1.StatefulSet); ok {
			t.Errorf("default values render StatefulSet %s", o.Name)
		}
	}
}

func TestCloudNativePG(t *testing.T) {
	r := render(t, nil, withDependencies...)
	// Every CloudNativePG object was checked against its CRD when decoded.
	c := customResource(t, r, "Cluster", pgCluster)
	spec := c.Object["spec"].(map[string]any)
	if spec["instances"] != int64(3) {
		t.Errorf("instances = %v, want 3", spec["instances"])
	}
	sync := spec["postgresql"].(map[string]any)["synchronous"].(map[string]any)
	if sync["number"] != int64(1) || sync["dataDurability"] != "required" {
		t.Errorf("synchronous = %v, want one standby and required durability", sync)
	}
	if spec["enablePDB"] != true {
		t.Errorf("enablePDB = %v: the operator's PodDisruptionBudgets must stay on", spec["enablePDB"])
	}
	plugins, _ := spec["plugins"].([]any)
	if len(plugins) != 1 || plugins[0].(map[string]any)["isWALArchiver"] != true {
		t.Errorf("plugins = %v, want the Barman Cloud plugin archiving WAL", plugins)
	}
	var kinds []string
	for _, o := range r.Objects {
		if cr, ok := o.Obj.(*CustomResource); ok {
			kinds = append(kinds, cr.Kind)
		}
	}
	if strings.Join(kinds, ",") != "Cluster,ObjectStore,ScheduledBackup" {
		t.Errorf("CloudNativePG objects %v, want Cluster, ObjectStore, ScheduledBackup", kinds)
	}
	// The operator makes the database's PodDisruptionBudgets: none of the
	// chart's selects its pods (cnpg.io/cluster).
	for _, pdb := range all[*policyv1.PodDisruptionBudget](r) {
		sel, _ := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if sel.Matches(labels.Set{"cnpg.io/cluster": pgCluster}) {
			t.Errorf("PodDisruptionBudget %s covers the database pods, doubling the operator's", pdb.Name)
		}
	}

	// The pods and the migration Job take the database from the operator's
	// Secret, and reads from the standbys' Service.
	d := get[*appsv1.Deployment](t, r, releaseName)
	env := envByName(d.Spec.Template.Spec.Containers[0].Env)
	if ref := env["SHORTLINKS_DATABASE_URL"].ValueFrom; ref == nil || ref.SecretKeyRef == nil ||
		ref.SecretKeyRef.Name != pgCluster+"-app" || ref.SecretKeyRef.Key != "uri" {
		t.Errorf("SHORTLINKS_DATABASE_URL = %+v, want the uri of the %s-app Secret", env["SHORTLINKS_DATABASE_URL"], pgCluster)
	}
	if v := env["SHORTLINKS_DATABASE_REPLICA_URLS"].Value; !strings.Contains(v, "@"+pgCluster+"-ro.") || !strings.Contains(v, "$(SHORTLINKS_PG_PASSWORD)") {
		t.Errorf("SHORTLINKS_DATABASE_REPLICA_URLS = %q, want the -ro Service with the app credentials", v)
	}
	if env["SHORTLINKS_AUTO_MIGRATE"].Value != "true" {
		t.Error("the pods do not migrate the chart's database at install")
	}
	// Kubernetes expands $(VAR) only from variables defined before.
	order := d.Spec.Template.Spec.Containers[0].Env
	idx := map[string]int{}
	for i, e := range order {
		idx[e.Name] = i
	}
	if idx["SHORTLINKS_PG_PASSWORD"] > idx["SHORTLINKS_DATABASE_REPLICA_URLS"] {
		t.Error("the replica URL comes before the password it refers to")
	}
	job := get[*batchv1.Job](t, r, releaseName+"-migrate")
	if job.Annotations[hookAnnot] != "pre-upgrade" {
		t.Errorf("migration hook %q: before install the database does not exist yet", job.Annotations[hookAnnot])
	}
	if e := envByName(job.Spec.Template.Spec.Containers[0].Env)["SHORTLINKS_DATABASE_URL"]; e.ValueFrom == nil {
		t.Error("the migration Job does not read the operator's Secret")
	}
	if s := get[*corev1.Secret](t, r, releaseName); s.Data["SHORTLINKS_DATABASE_URL"] != nil {
		t.Error("the chart-made Secret holds a database URL though the chart runs the database")
	}
}

func TestRedisSentinel(t *testing.T) {
	r := render(t, nil, withDependencies...)
	name := releaseName + "-redis"
	ss := get[*appsv1.StatefulSet](t, r, name)
	if ss.Spec.Replicas == nil || *ss.Spec.Replicas != 3 {
		t.Errorf("Redis replicas %v, want 3 (a master, two replicas, three sentinels)", ss.Spec.Replicas)
	}
	spec := ss.Spec.Template.Spec
	checkPodSecurity(t, "redis", spec, 999)
	var names []string
	for _, c := range spec.Containers {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "redis,sentinel" {
		t.Errorf("containers %v, want redis and sentinel", names)
	}
	svc := get[*corev1.Service](t, r, name)
	if svc.Spec.ClusterIP != "None" || svc.Spec.Selector["app.kubernetes.io/component"] != "redis" {
		t.Errorf("Service %s: clusterIP %q selector %v, want headless over the Redis pods", name, svc.Spec.ClusterIP, svc.Spec.Selector)
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(ss.Spec.Template.Labels)) {
		t.Error("the Redis Service does not select the Redis pods")
	}
	cm := get[*corev1.ConfigMap](t, r, name)
	if s := cm.Data["configure.sh"]; !strings.Contains(s, "get-master-addr-by-name mymaster") || !strings.Contains(s, "sentinel monitor mymaster") {
		t.Error("the Redis pods do not ask the sentinels for the current master before they start")
	}
	d := get[*appsv1.Deployment](t, r, releaseName)
	url := envByName(d.Spec.Template.Spec.Containers[0].Env)["SHORTLINKS_REDIS_URL"].Value
	want := "redis-sentinel://" + name + "-0." + name + "." + namespace + ".svc:26379,"
	if !strings.HasPrefix(url, want) || !strings.HasSuffix(url, "/mymaster") || strings.Count(url, ":26379") != 3 {
		t.Errorf("SHORTLINKS_REDIS_URL = %q, want the three sentinels and mymaster", url)
	}
	pdb := get[*policyv1.PodDisruptionBudget](t, r, name)
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("Redis PodDisruptionBudget maxUnavailable %v, want 1 (two sentinels are a quorum)", pdb.Spec.MaxUnavailable)
	}
}

func TestRefusedDependencyValues(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  []string
		want string
	}{
		{"no standby for synchronous replication", []string{"secret.create=true", "postgresql.cloudnativepg.enabled=true", "postgresql.cloudnativepg.instances=1"}, "must exceed synchronous.number"},
		{"backups without a destination", []string{"secret.create=true", "postgresql.cloudnativepg.enabled=true", "postgresql.cloudnativepg.backup.enabled=true"}, "destinationPath is required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tryRender(nil, tt.set...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("render error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// customResource returns the one custom resource of kind named name.
func customResource(t *testing.T, r *rendered, kind, name string) *CustomResource {
	t.Helper()
	var found []*CustomResource
	for _, cr := range all[*CustomResource](r) {
		if cr.Kind == kind && cr.Name == name {
			found = append(found, cr)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s named %q, found %d; rendered: %s", kind, name, len(found), r.kinds())
	}
	return found[0]
}

func envByName(env []corev1.EnvVar) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range env {
		out[e.Name] = e
	}
	return out
}
