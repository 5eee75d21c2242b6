package cli_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestAPIKeySignature(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "links.db")
	mustRun(t, nil, "apikey", "create", "--name", "sharex", "--database-url", dbURL)
	mustRun(t, nil, "apikey", "create", "--name", "other", "--database-url", dbURL)
	first := strings.TrimSpace(mustRun(t, nil, "apikey", "signature", "1", "--database-url", dbURL))
	second := strings.TrimSpace(mustRun(t, nil, "apikey", "signature", "2", "--database-url", dbURL))
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(first) || first == second {
		t.Fatalf("signature tokens %q and %q; want 32 hex digits each, different", first, second)
	}
	if again := strings.TrimSpace(mustRun(t, nil, "apikey", "signature", "1", "--database-url", dbURL)); again != first {
		t.Errorf("the token changed between runs: %q, then %q", first, again)
	}
	mustRun(t, nil, "apikey", "revoke", "1", "--database-url", dbURL)
	for _, id := range []string{"1", "9", "x"} {
		if _, err := run(t, nil, "apikey", "signature", id, "--database-url", dbURL); err == nil {
			t.Errorf("apikey signature %s succeeded", id)
		}
	}
}
