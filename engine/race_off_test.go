//go:build !race

package engine

// raceEnabled skips the allocation gates: the race detector allocates.
const raceEnabled = false
