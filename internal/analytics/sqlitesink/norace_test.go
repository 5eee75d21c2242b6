//go:build !race

package sqlitesink_test

const raceEnabled = false
