//go:build !race

package codec

// raceEnabled skips the allocation gates: the race detector allocates (make test-allocs runs
// them without -race).
const raceEnabled = false
