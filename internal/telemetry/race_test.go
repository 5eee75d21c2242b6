//go:build race

package telemetry_test

// raceEnabled is set when the race detector is on. Allocation counts mean
// nothing then: sync.Pool drops items on purpose and the detector allocates.
const raceEnabled = true
