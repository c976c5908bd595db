package freeport

import (
	"net"
	"strconv"
	"testing"
)

// The ports are below the ephemeral range and can be listened on.
func TestGetBelowEphemeralRange(t *testing.T) {
	hi := ephemeralStart()
	seen := map[int]bool{}
	for i := 0; i < 50; i++ {
		p := Must(t)
		if p < lowest || p >= hi {
			t.Fatalf("port %d outside %d-%d", p, lowest, hi-1)
		}
		seen[p] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d given as free: %v", p, err)
		}
		l.Close()
	}
	if len(seen) < 40 {
		t.Fatalf("50 picks gave only %d distinct ports: the start is not random", len(seen))
	}
}
