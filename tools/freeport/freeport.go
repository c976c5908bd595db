// Package freeport picks free loopback TCP ports for tests and load tools that start brokers
// as separate processes.
//
// A port from the kernel's ephemeral range (what listening on ":0" gives) can be taken by any
// outgoing connection on the machine between the moment it is picked and the moment a broker
// binds it, and again while a broker is down between a kill and its restart: the restart then
// fails with "address already in use". The ports given here lie below that range
// (/proc/sys/net/ipv4/ip_local_port_range), where only explicit listeners go, and are picked
// from a random start so that test packages running side by side rarely try the same one.
//
// The functions are safe for concurrent use.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// lowest port handed out: below it are well-known and registered services' usual ports.
const lowest = 10000

// ephemeralStart returns the first port of the kernel's ephemeral range (32768 if unknown).
func ephemeralStart() int {
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > lowest+1000 {
				lo = v
			}
		}
	}
	return lo
}

// Get returns a port on 127.0.0.1 that was free a moment ago, below the ephemeral range.
func Get() (int, error) {
	hi := ephemeralStart()
	span := hi - lowest
	start := rand.IntN(span)
	for i := 0; i < span; i++ {
		port := lowest + (start+i)%span
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("freeport: no free port on 127.0.0.1 in %d-%d", lowest, hi-1)
}

// TB is the part of testing.TB that Must uses.
type TB interface {
	Helper()
	Fatal(args ...any)
}

// Must returns Get's port or fails the test.
func Must(t TB) int {
	t.Helper()
	p, err := Get()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
