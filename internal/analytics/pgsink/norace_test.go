//go:build !race

package pgsink_test

const raceEnabled = false
