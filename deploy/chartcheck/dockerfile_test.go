package chartcheck

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/pb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// baseImages are the image configs the Dockerfile's FROM lines resolve to,
// standing in for a registry: what matters here is how the Dockerfile
// changes them. They carry the fields the real images set.
var baseImages = map[string]ocispecs.ImageConfig{
	"docker.io/library/golang:1.26": {
		Env:        []string{"PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GOLANG_VERSION=1.26.8", "GOTOOLCHAIN=local", "GOPATH=/go"},
		WorkingDir: "/go",
		Cmd:        []string{"bash"},
	},
	"gcr.io/distroless/static-debian12:nonroot": {
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		User:       "65532",
		WorkingDir: "/home/nonroot",
	},
}

type registry struct{ t *testing.T }

func (r registry) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	cfg, ok := baseImages[ref]
	if !ok {
		r.t.Errorf("the Dockerfile uses base image %s, which this test does not know", ref)
		return "", "", nil, fmt.Errorf("unknown image %s", ref)
	}
	img := ocispecs.Image{
		Platform: ocispecs.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Config:   cfg,
		RootFS:   ocispecs.RootFS{Type: "layers"},
	}
	dt, err := json.Marshal(img)
	return ref, digest.FromBytes(dt), dt, err
}

// convert runs the Dockerfile through BuildKit's Dockerfile front end (what
// `docker build` uses) and returns the final image config, the LLB exec
// steps and the front end's lint warnings (what `docker build --check` reports).
func convert(t *testing.T, buildArgs map[string]string) (*dockerspec.DockerOCIImageConfig, []*pb.ExecOp, []string) {
	t.Helper()
	dt := mustRead(t, repoPath("Dockerfile"))
	var warnings []string
	platform := ocispecs.Platform{OS: "linux", Architecture: runtime.GOARCH}
	res, err := dockerfile2llb.Dockerfile2LLB(context.Background(), dt, dockerfile2llb.ConvertOpt{
		Config: dockerui.Config{
			BuildArgs:      buildArgs,
			BuildPlatforms: []ocispecs.Platform{platform},
		},
		TargetPlatform: &platform,
		MetaResolver:   registry{t},
		Warn: func(rule, _, _, msg string, loc []parser.Range) {
			warnings = append(warnings, fmt.Sprintf("line %v: %s: %s", loc, rule, msg))
		},
	})
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	def, err := res.State.Marshal(context.Background(), llb.Platform(platform))
	if err != nil {
		t.Fatal(err)
	}
	var execs []*pb.ExecOp
	for _, b := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(b); err != nil {
			t.Fatal(err)
		}
		if e := op.GetExec(); e != nil {
			execs = append(execs, e)
		}
	}
	return &res.Image.Config, execs, warnings
}

func TestDockerfile(t *testing.T) {
	cfg, execs, warnings := convert(t, map[string]string{"VERSION": "1.2.3"})
	for _, w := range warnings {
		t.Errorf("docker build --check: %s", w)
	}

	// The image: a non-root numeric user, the binary as entrypoint, serve by default.
	if cfg.User != "65532:65532" {
		t.Errorf("USER %q, want 65532:65532", cfg.User)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/shortlinks"}) || !slices.Equal(cfg.Cmd, []string{"serve"}) {
		t.Errorf("ENTRYPOINT %v CMD %v, want [/shortlinks] [serve]", cfg.Entrypoint, cfg.Cmd)
	}
	if _, ok := cfg.ExposedPorts["8080/tcp"]; !ok || len(cfg.ExposedPorts) != 1 {
		t.Errorf("EXPOSE %v, want 8080/tcp", cfg.ExposedPorts)
	}
	if _, ok := cfg.Volumes["/data"]; !ok || cfg.WorkingDir != "/data" {
		t.Errorf("VOLUME %v WORKDIR %q: the SQLite default needs /data as a volume and the working directory", cfg.Volumes, cfg.WorkingDir)
	}

	// The build step: go build of ./cmd/shortlinks without cgo, with caches.
	build := goBuild(t, execs)
	env := envMap(build.Meta.Env)
	if env["CGO_ENABLED"] != "0" {
		t.Errorf("go build runs with CGO_ENABLED=%q", env["CGO_ENABLED"])
	}
	script := build.Meta.Args[len(build.Meta.Args)-1]
	for _, want := range []string{"-trimpath", "-X github.com/shortlinks/shortlinks/internal/cli.version=${VERSION}", "./cmd/shortlinks"} {
		if !strings.Contains(script, want) {
			t.Errorf("build step %q lacks %q", script, want)
		}
	}
	if env["VERSION"] != "1.2.3" {
		t.Errorf("build arg VERSION reaches the build as %q", env["VERSION"])
	}
	var caches []string
	for _, m := range build.Mounts {
		if m.MountType == pb.MountType_CACHE {
			caches = append(caches, m.Dest)
		}
	}
	slices.Sort(caches)
	if !slices.Equal(caches, []string{"/go/pkg/mod", "/root/.cache/go-build"}) {
		t.Errorf("build cache mounts %v, want the module and build caches", caches)
	}
}

func TestDockerfileBuildsStaticBinary(t *testing.T) {
	// Run the Dockerfile's own build step here, as its RUN line says, and
	// look at what it makes.
	_, execs, _ := convert(t, map[string]string{"VERSION": "1.2.3"})
	build := goBuild(t, execs)
	script := build.Meta.Args[len(build.Meta.Args)-1]
	out := filepath.Join(t.TempDir(), "shortlinks")
	if !strings.Contains(script, "-o /out/shortlinks") {
		t.Fatalf("build step %q does not write /out/shortlinks", script)
	}
	script = strings.Replace(script, "-o /out/shortlinks", "-o "+out, 1)

	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Dir = repoPath()
	cmd.Env = os.Environ()
	for k, v := range envMap(build.Meta.Env) {
		switch k {
		case "PATH", "GOPATH", "GOTOOLCHAIN", "GOLANG_VERSION":
			// the image's toolchain paths; this machine's Go builds here
		default:
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, b)
	}

	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has a %v program header: it is dynamically linked", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary needs %v", libs)
	}
	bi, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" || bi.Path != "github.com/shortlinks/shortlinks/cmd/shortlinks" {
		t.Errorf("build info: path %s, CGO_ENABLED=%q, -trimpath=%q", bi.Path, settings["CGO_ENABLED"], settings["-trimpath"])
	}
	v, err := exec.Command(out, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(v), "1.2.3") {
		t.Errorf("shortlinks version: %q, %v; want the VERSION build arg 1.2.3", v, err)
	}
}

func TestDockerignore(t *testing.T) {
	rules, err := ignorefile.ReadAll(bytes.NewReader(mustRead(t, repoPath(".dockerignore"))))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(rules)
	if err != nil {
		t.Fatal(err)
	}
	// Everything `go build ./cmd/shortlinks` reads must reach the builder.
	list := exec.Command("go", "list", "-deps", "-f", `{{if .Module}}{{if .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{end}}{{end}}`, "./cmd/shortlinks")
	list.Dir = repoPath()
	b, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(repoPath())
	if err != nil {
		t.Fatal(err)
	}
	needed := []string{"go.mod", "go.sum"}
	for _, p := range strings.Fields(string(b)) {
		rel, err := filepath.Rel(root, p)
		if err != nil {
			t.Fatal(err)
		}
		needed = append(needed, filepath.ToSlash(rel))
	}
	if len(needed) < 20 {
		t.Fatalf("go list found only %v", needed)
	}
	for _, p := range needed {
		if ignored, _ := pm.MatchesOrParentMatches(p); ignored {
			t.Errorf(".dockerignore leaves out %s, which the build needs", p)
		}
	}
	// ... and what it does not need stays out.
	for _, p := range []string{".git", "shortlinks.db", "internal/store/sqlite/x.db-wal", "bin/shortlinks", "deploy/helm/shortlinks/Chart.yaml", "docs/deploy.md"} {
		if ignored, _ := pm.MatchesOrParentMatches(p); !ignored {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
}

// goBuild finds the step that runs go build.
func goBuild(t *testing.T, execs []*pb.ExecOp) *pb.ExecOp {
	t.Helper()
	var found []*pb.ExecOp
	for _, e := range execs {
		if strings.Contains(strings.Join(e.Meta.Args, " "), "go build") {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d steps run go build, want 1", len(found))
	}
	return found[0]
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
