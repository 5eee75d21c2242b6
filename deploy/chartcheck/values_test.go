package chartcheck

import (
	"bufio"
	"bytes"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var keyLine = regexp.MustCompile(`^( *)([A-Za-z0-9_.-]+):(.*)$`)

// TestValuesDocumented checks that every value in values.yaml has a comment
// right above it, or sits inside a documented block (like resources:).
func TestValuesDocumented(t *testing.T) {
	undocumented := undocumentedValues(t, mustRead(t, filepath.Join(chartDir, "values.yaml")))
	if len(undocumented) > 0 {
		t.Errorf("values.yaml: no comment above %v", undocumented)
	}
	// The check itself must catch a missing comment.
	if got := undocumentedValues(t, []byte("# -- documented\na: 1\nb: 2\nc:\n  # -- documented\n  d: 3\n  e: 4\n# -- a block\nf:\n  g: 5\n")); !slices.Equal(got, []string{"b", "c.e"}) {
		t.Errorf("undocumentedValues found %v, want [b c.e]", got)
	}
}

func undocumentedValues(t *testing.T, src []byte) []string {
	t.Helper()
	type level struct {
		indent     int
		name       string
		documented bool
	}
	var (
		lines   []string
		stack   []level
		missing []string
	)
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	commented := false
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			commented = false
			continue
		case strings.HasPrefix(trimmed, "#"):
			commented = true
			continue
		}
		m := keyLine.FindStringSubmatch(line)
		if m == nil {
			commented = false // a list item or a continuation: part of a value
			continue
		}
		indent, name, rest := len(m[1]), m[2], strings.TrimSpace(m[3])
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		inherited := len(stack) > 0 && stack[len(stack)-1].documented
		documented := commented || inherited
		commented = false
		path := name
		if len(stack) > 0 {
			path = stack[len(stack)-1].name + "." + name
		}
		if rest == "" && opensMap(lines[i+1:], indent) {
			stack = append(stack, level{indent, path, documented})
			continue
		}
		if !documented {
			missing = append(missing, path)
		}
	}
	return missing
}

// opensMap reports whether the lines after a bare "key:" at indent hold a
// nested mapping (rather than a list or nothing).
func opensMap(rest []string, indent int) bool {
	for _, l := range rest {
		tl := strings.TrimSpace(l)
		if tl == "" || strings.HasPrefix(tl, "#") {
			continue
		}
		m := keyLine.FindStringSubmatch(l)
		return m != nil && len(m[1]) > indent
	}
	return false
}

// TestProductionValuesKnown checks that values-production.yaml sets only
// values the chart has: Helm ignores a misspelt key without a word.
func TestProductionValuesKnown(t *testing.T) {
	var def, prod map[string]any
	if err := yaml.Unmarshal(mustRead(t, filepath.Join(chartDir, "values.yaml")), &def); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(mustRead(t, filepath.Join(chartDir, productionVF)), &prod); err != nil {
		t.Fatal(err)
	}
	if unknown := unknownKeys("", prod, def); len(unknown) > 0 {
		t.Errorf("values-production.yaml sets values the chart does not have: %v", unknown)
	}
	if got := unknownKeys("", map[string]any{"gateway": map[string]any{"replicas": 2}}, def); !slices.Equal(got, []string{"gateway.replicas"}) {
		t.Errorf("unknownKeys found %v, want [gateway.replicas]", got)
	}
}

// unknownKeys lists the keys of set that defaults lacks. Below an empty map
// in the defaults (labels, annotations, extraEnv …) any key is allowed.
func unknownKeys(prefix string, set, defaults map[string]any) []string {
	if len(defaults) == 0 {
		return nil
	}
	var out []string
	for k, v := range set {
		d, ok := defaults[k]
		if !ok {
			out = append(out, prefix+k)
			continue
		}
		sm, sok := v.(map[string]any)
		dm, dok := d.(map[string]any)
		if sok && dok {
			out = append(out, unknownKeys(prefix+k+".", sm, dm)...)
		}
	}
	slices.Sort(out)
	return out
}
