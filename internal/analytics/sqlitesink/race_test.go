//go:build race

package sqlitesink_test

// raceEnabled is set when the race detector is on, which slows writes
// tenfold: long measurements skip then.
const raceEnabled = true
