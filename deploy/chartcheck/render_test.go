package chartcheck

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/yaml"
)

const (
	releaseName = "shortlinks"
	namespace   = "shortlinks"
)

// repoPath is a path inside the Shortlinks repository, given from its root.
func repoPath(parts ...string) string {
	return filepath.Join(append([]string{"..", ".."}, parts...)...)
}

var chartDir = repoPath("deploy", "helm", "shortlinks")

func TestMain(m *testing.M) {
	// Helm's chart loader logs every symbolic link it follows; the chart's
	// files/ links to deploy/nginx, deploy/prometheus and deploy/grafana on purpose.
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// decoder decodes the built-in kinds the chart renders. Strict: a field the
// API type does not have, or a key given twice, is an error.
var decoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		autoscalingv2.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}()

// object is one rendered manifest.
type object struct {
	Template string // e.g. shortlinks/templates/deployment.yaml
	Kind     string
	Name     string
	Obj      any // a k8s.io/api type, or one of the CRD types in crds_test.go
	YAML     string
}

// rendered is everything one set of values renders to.
type rendered struct {
	Objects []object
	Notes   string
}

// render renders the chart as `helm template` does, with the value files
// (paths from the chart directory) and --set style overrides, and decodes
// every manifest strictly.
func render(t *testing.T, valueFiles []string, set ...string) *rendered {
	t.Helper()
	r, err := tryRender(valueFiles, set...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tryRender(valueFiles []string, set ...string) (*rendered, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	opts := values.Options{Values: set}
	for _, f := range valueFiles {
		opts.ValueFiles = append(opts.ValueFiles, filepath.Join(chartDir, f))
	}
	vals, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = chartutil.KubeVersion{Version: "v1.33.0", Major: "1", Minor: "33"}
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{
		Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return nil, fmt.Errorf("render values: %w", err)
	}
	// Strict, like `helm lint --strict`: a missing value is an error.
	files, err := engine.Engine{Strict: true}.Render(ch, rv)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}

	out := &rendered{}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") {
			out.Notes = files[name]
			continue
		}
		docs := releaseutil.SplitManifests(files[name])
		keys := make([]string, 0, len(docs))
		for k := range docs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			doc := docs[k]
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			o, err := decode(name, doc)
			if err != nil {
				return nil, err
			}
			out.Objects = append(out.Objects, o)
		}
	}
	return out, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// decode turns one manifest into its API type, refusing unknown fields.
func decode(template, doc string) (object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
		return object{}, fmt.Errorf("%s: not YAML: %w\n%s", template, err, doc)
	}
	o := object{Template: template, Kind: tm.Kind, YAML: doc}
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "monitoring.coreos.com/v1 ServiceMonitor":
		obj = &ServiceMonitor{}
	case "monitoring.coreos.com/v1 PrometheusRule":
		obj = &PrometheusRule{}
	default:
		if avk := tm.APIVersion + " " + tm.Kind; hasCRD(avk) {
			cr, err := decodeCustom(avk, doc)
			if err != nil {
				return object{}, fmt.Errorf("%s: %s: %w\n%s", template, avk, err, doc)
			}
			o.Obj, o.Name = cr, cr.Name
			return o, nil
		}
		typed, _, err := decoder.Decode([]byte(doc), nil, nil)
		if err != nil {
			return object{}, fmt.Errorf("%s: %s %s: %w\n%s", template, tm.APIVersion, tm.Kind, err, doc)
		}
		m, err := metaOf(typed)
		if err != nil {
			return object{}, fmt.Errorf("%s: %w", template, err)
		}
		o.Obj, o.Name = typed, m.Name
		return o, nil
	}
	if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
		return object{}, fmt.Errorf("%s: %s %s: %w\n%s", template, tm.APIVersion, tm.Kind, err, doc)
	}
	m, err := metaOf(obj)
	if err != nil {
		return object{}, fmt.Errorf("%s: %w", template, err)
	}
	o.Obj, o.Name = obj, m.Name
	return o, nil
}

func metaOf(obj any) (*metav1.ObjectMeta, error) {
	a, ok := obj.(interface{ GetObjectMeta() metav1.Object })
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", obj)
	}
	m, ok := a.GetObjectMeta().(*metav1.ObjectMeta)
	if !ok {
		return nil, fmt.Errorf("%T: unexpected metadata type", obj)
	}
	return m, nil
}

// get returns the one object of type T named name, failing the test if
// there is not exactly one.
func get[T any](t *testing.T, r *rendered, name string) T {
	t.Helper()
	var found []T
	for _, o := range r.Objects {
		if v, ok := o.Obj.(T); ok && o.Name == name {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want one %T named %q, found %d; rendered: %s", zero, name, len(found), r.kinds())
	}
	return found[0]
}

// all returns every object of type T.
func all[T any](r *rendered) []T {
	var found []T
	for _, o := range r.Objects {
		if v, ok := o.Obj.(T); ok {
			found = append(found, v)
		}
	}
	return found
}

// kinds lists the rendered objects as Kind/name, sorted.
func (r *rendered) kinds() []string {
	var ks []string
	for _, o := range r.Objects {
		ks = append(ks, o.Kind+"/"+o.Name)
	}
	slices.Sort(ks)
	return ks
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
