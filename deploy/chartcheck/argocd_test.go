package chartcheck

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestArgoCDApplication checks deploy/argocd/application.yaml: a strict
// argoproj.io/v1alpha1 Application that syncs the chart in this repository
// with its production values, pruning and healing, into its own namespace.
func TestArgoCDApplication(t *testing.T) {
	var app Application
	if err := yaml.UnmarshalStrict(mustRead(t, repoPath("deploy", "argocd", "application.yaml")), &app); err != nil {
		t.Fatalf("deploy/argocd/application.yaml: %v", err)
	}
	if app.APIVersion != "argoproj.io/v1alpha1" || app.Kind != "Application" {
		t.Errorf("%s %s, want argoproj.io/v1alpha1 Application", app.APIVersion, app.Kind)
	}
	if app.Namespace != "argocd" {
		t.Errorf("Application in namespace %q, want argocd (where Argo CD looks for them)", app.Namespace)
	}
	src := app.Spec.Source
	if src.RepoURL != "https://github.com/shortlinks/shortlinks.git" || src.TargetRevision == "" {
		t.Errorf("source %s at %q", src.RepoURL, src.TargetRevision)
	}
	// The path and value files must exist in this repository.
	if fi, err := os.Stat(repoPath(filepath.FromSlash(src.Path), "Chart.yaml")); err != nil || fi.IsDir() {
		t.Errorf("source path %q holds no chart: %v", src.Path, err)
	}
	if src.Path != "deploy/helm/shortlinks" {
		t.Errorf("source path %q, want deploy/helm/shortlinks", src.Path)
	}
	if len(src.Helm.ValueFiles) == 0 {
		t.Error("no value files")
	}
	for _, f := range src.Helm.ValueFiles {
		if _, err := os.Stat(repoPath(filepath.FromSlash(src.Path), f)); err != nil {
			t.Errorf("value file %s: %v", f, err)
		}
	}
	// Whatever Argo CD renders must pass the same checks as here.
	if _, err := tryRender(src.Helm.ValueFiles); err != nil {
		t.Errorf("the chart does not render with the Application's values: %v", err)
	}
	if src.Helm.ReleaseName != releaseName {
		t.Errorf("release name %q, want %q", src.Helm.ReleaseName, releaseName)
	}
	if app.Spec.Destination.Namespace != namespace || app.Spec.Destination.Server == "" {
		t.Errorf("destination %+v", app.Spec.Destination)
	}
	a := app.Spec.SyncPolicy.Automated
	if a == nil || !a.Prune || !a.SelfHeal {
		t.Errorf("automated sync %+v, want prune and selfHeal", a)
	}
	if !slices.Contains(app.Spec.SyncPolicy.SyncOptions, "CreateNamespace=true") {
		t.Errorf("sync options %v lack CreateNamespace=true", app.Spec.SyncPolicy.SyncOptions)
	}
}
