//go:build !linux

package engine

// fdTableSize: see fdtable_linux.go.
const fdTableSize = 64 << 10

// presizeFDTable does nothing outside Linux.
func presizeFDTable(int) (int, error) { return 0, nil }
