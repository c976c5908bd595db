package engine

import (
	"syscall"
)

// The kernel's table of a process's file descriptors starts small and doubles when a new
// descriptor does not fit. In a multi-threaded process each doubling waits for an RCU grace
// period (expand_fdtable → synchronize_rcu) while every other thread that opens a descriptor
// waits for it: during a connect storm the event loops' accept4 calls stalled 10–25 ms at each
// of the table's doublings (execution trace of 5,000 CONNECTs: the longest loop rounds were
// all one accept4), holding every connection of both loops. Sizing the table once at start,
// before the loops run, leaves nothing to grow until the broker holds fdTableSize descriptors.

// fdTableSize is the descriptor table the node sizes at start (bounded by RLIMIT_NOFILE): 64 Ki
// entries cost the process 512 KiB of kernel memory.
const fdTableSize = 64 << 10

// presizeFDTable grows the process's descriptor table to hold descriptors below n (at most the
// soft RLIMIT_NOFILE) by duplicating one onto the lowest free number at or above n-1 and
// closing it: nothing open is touched. It reports the table size reached (0 when it did
// nothing).
func presizeFDTable(n int) (int, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < uint64(n) {
		n = int(lim.Cur)
	}
	if n <= 1024 {
		return 0, nil
	}
	fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer syscall.Close(fd)
	high, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, uintptr(n-1))
	if errno != 0 {
		return 0, errno
	}
	syscall.Close(int(high))
	return n, nil
}
