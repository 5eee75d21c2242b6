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
		if !strings.Contains(string(readme), row) {
			t.Errorf("README's configuration table has no row starting %s", row)
		}
	}
}
