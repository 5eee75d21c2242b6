package gctune

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// TestApply checks what Apply sets for each environment and container
// limit, and that it leaves alone what the environment sets.
func TestApply(t *testing.T) {
	prevPercent := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(prevPercent)
		debug.SetMemoryLimit(prevLimit)
	})
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v2 := file("memory.max", "805306368\n")
	unlimited := file("unlimited", "max\n")
	v1none := file("limit_in_bytes", "9223372036854771712\n")
	missing := filepath.Join(dir, "absent")

	for _, tc := range []struct {
		name  string
		env   []string
		files []string
		want  Settings
	}{
		{"defaults in a container", nil, []string{v2}, Settings{Percent: 200, Limit: 724775731}},
		{"cgroup v1 without a limit", nil, []string{missing, v1none}, Settings{Percent: 200}},
		{"no limit", nil, []string{unlimited, v2}, Settings{Percent: 200}},
		{"no cgroup files", nil, []string{missing}, Settings{Percent: 200}},
		{"GOGC set", []string{"GOGC=50"}, []string{v2}, Settings{Limit: 724775731}},
		{"both set", []string{"GOGC=off", "GOMEMLIMIT=1GiB"}, []string{v2}, Settings{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			got := Apply(tc.env, tc.files...)
			if got != tc.want {
				t.Fatalf("Apply = %+v, want %+v", got, tc.want)
			}
			wantPercent := 100
			if tc.want.Percent != 0 {
				wantPercent = tc.want.Percent
			}
			if p := debug.SetGCPercent(100); p != wantPercent {
				t.Errorf("GOGC in effect %d, want %d", p, wantPercent)
			}
			wantLimit := int64(math.MaxInt64)
			if tc.want.Limit != 0 {
				wantLimit = tc.want.Limit
			}
			if l := debug.SetMemoryLimit(-1); l != wantLimit {
				t.Errorf("memory limit in effect %d, want %d", l, wantLimit)
			}
		})
	}
}
