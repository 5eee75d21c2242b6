package telemetry

import (
	"runtime"
	"runtime/debug"
)

// Build identifies the running binary.
type Build struct {
	Version   string // release version, or "dev"
	Commit    string // VCS revision the binary was built from, or "unknown"
	GoVersion string
}

// ReadBuild describes this binary: version as given (set at link time),
// the commit the Go toolchain stamped into it, and the Go version.
func ReadBuild(version string) Build {
	b := Build{Version: version, Commit: "unknown", GoVersion: runtime.Version()}
	if b.Version == "" {
		b.Version = "dev"
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				b.Commit = s.Value
			}
		}
	}
	return b
}
