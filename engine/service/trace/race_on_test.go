//go:build race

package trace

// raceEnabled skips the allocation gates: the race detector allocates.
const raceEnabled = true
