//go:build !race

package codec

// raceEnabled skips the allocation gates: the race detector allocates.
const raceEnabled = false
