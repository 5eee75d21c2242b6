package shlink_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/config"
)

// sdkDir holds Shlink's official JavaScript SDK at a pinned version
// (package.json, package-lock.json), which .ci/run installs with npm ci,
// and the script that drives it.
const sdkDir = "testdata/sdk"

// TestShlinkSDK runs Shlink's own JavaScript SDK against a real server:
// create, list, get, edit, delete, tags, visits (of a real redirect) and
// health, as a Shlink client would.
func TestShlinkSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	installed := err == nil
	if _, err := os.Stat(filepath.Join(sdkDir, "node_modules", "@shlinkio", "shlink-js-sdk", "package.json")); err != nil {
		installed = false
	}
	if !installed {
		msg := "needs node and Shlink's SDK: run 'npm ci --prefix internal/compat/shlink/testdata/sdk' (.ci/run does)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	srv := startServer(t, func(c *config.Config) { c.AnalyticsFlushInterval = 20 * time.Millisecond })
	cmd := exec.CommandContext(t.Context(), node, "sdk.mjs")
	cmd.Dir = sdkDir
	cmd.Env = append(os.Environ(), "SHLINK_URL="+srv.url, "SHLINK_KEY="+srv.key(t, "sdk", false))
	out, err := cmd.CombinedOutput()
	t.Logf("node sdk.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("Shlink's SDK failed against Shortlinks: %v", err)
	}
}
