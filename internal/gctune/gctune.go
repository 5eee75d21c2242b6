// Package gctune sets Go's collector for the long-running commands (serve,
// worker) where the environment leaves it at Go's defaults. The server
// holds a large, long-lived heap (the cached links), so each collection
// marks much and finds little: collecting half as often saves CPU on the
// redirect path for memory, and a memory limit taken from the container's
// keeps that memory within bounds (docs/performance.md, "Memory: GOGC and
// GOMEMLIMIT").
package gctune

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/shortlinks/shortlinks/internal/environ"
)

// Percent is the GOGC the commands run with when GOGC is not set.
const Percent = 200

// limitShare is the share of the container's memory limit given to Go as
// its soft limit when GOMEMLIMIT is not set: the rest is for what Go does
// not count (SQLite's page cache, thread stacks, the binary).
const limitShare = 0.9

// CgroupFiles hold a container's memory limit: cgroup v2's, then v1's.
var CgroupFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// Settings are what Apply set; a zero field was left as it was.
type Settings struct {
	Percent int   // GOGC
	Limit   int64 // GOMEMLIMIT, bytes
}

// Apply sets GOGC to Percent unless env sets GOGC, and the memory limit to
// limitShare of the first limit found in files unless env sets
// GOMEMLIMIT, and says what it set.
func Apply(env []string, files ...string) Settings {
	var s Settings
	if environ.Get(env, "GOGC") == "" {
		debug.SetGCPercent(Percent)
		s.Percent = Percent
	}
	if environ.Get(env, "GOMEMLIMIT") == "" {
		if limit := containerLimit(files); limit > 0 {
			s.Limit = int64(float64(limit) * limitShare)
			debug.SetMemoryLimit(s.Limit)
		}
	}
	return s
}

// containerLimit returns the memory limit in the first of files that
// holds one, or 0: "max" (cgroup v2) and v1's near-2^63 both mean none.
func containerLimit(files []string) int64 {
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 {
			return 0
		}
		return n
	}
	return 0
}
