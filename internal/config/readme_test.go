package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/config"
)

// TestREADMEListsEverySetting keeps the configuration table in the README
// in step with the settings the server reads: every setting has a row, and
// a setting with a default shows it.
func TestREADMEListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range config.Settings {
		row := "| `--" + s.Name + "` | `" + config.EnvName(s.Name) + "` |"
		if s.Default != "" {
			row += " `" + s.Default + "` |"
		}
		i := strings.Index(string(readme), row)
		if i < 0 {
			t.Errorf("README's configuration table has no row starting %s", row)
			continue
		}
		line, _, _ := strings.Cut(string(readme[i:]), "\n")
		if live := strings.HasSuffix(line, " **live** |"); live != s.Live {
			t.Errorf("README's row for --%s ends with **live**: %v; the setting is live: %v", s.Name, live, s.Live)
		}
	}
}
