//go:build !race

package rewrite

// raceEnabled skips the allocation gate: the race detector allocates.
const raceEnabled = false
