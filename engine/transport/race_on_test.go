//go:build race

package transport

// raceEnabled skips the allocation gates: the race detector allocates.
const raceEnabled = true
