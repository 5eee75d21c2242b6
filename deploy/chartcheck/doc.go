// Package chartcheck holds the tests of Shortlinks' deployment files: the
// Helm chart (rendered with Helm's own engine and decoded strictly into the
// Kubernetes API types), the Argo CD Application, the Dockerfile (run
// through BuildKit's own Dockerfile front end) and the compose stack (loaded
// with the Compose Specification's reference loader).
//
// It is a module of its own so that Helm, the Kubernetes API types and
// BuildKit stay out of the service's go.mod. Run it with
//
//	cd deploy/chartcheck && go test ./...
//
// or through `make check-deploy`, which also lints the chart with the helm
// binary, validates the CI workflow and checks the compose file with a
// compose tool.
package chartcheck
