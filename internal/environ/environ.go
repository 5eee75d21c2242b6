// Package environ reads a process environment that is passed down as
// KEY=VALUE pairs, as os.Environ returns it, rather than read from the
// process: commands, configuration and telemetry take it as an argument so
// that tests can run them side by side with environments of their own.
package environ

import "strings"

// Get returns the value of name in environ, or "" when it is not set. When
// name is set more than once the last setting wins, as in a shell.
func Get(environ []string, name string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(environ[i], name+"="); ok {
			return v
		}
	}
	return ""
}
