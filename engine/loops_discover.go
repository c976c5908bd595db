package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// discoverLoops makes sure every gnet event loop is known (n.loops) before a transport that
// is not gnet's own (TLS) hands connections to them: a loop is otherwise known only once a TCP
// connection opened on it. gnet names its loops to nobody, so one Unix socket pair per loop is
// enrolled through the engine's round-robin balancer; OnOpen records the loop and closes it
// (isProbe). This happens once, at start.
func (n *Node) discoverLoops(count int) error {
	n.engMu.Lock()
	eng := n.eng
	n.engMu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	// gnet calls OnBoot before it creates the loops; its ticker starts once they all run.
	for !n.tls.ticked.Load() {
		if time.Now().After(deadline) {
			return errors.New("engine: the event loops did not start within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < count; i++ {
		if err := n.enrollProbe(eng); err != nil {
			return fmt.Errorf("engine: finding the event loops: %w", err)
		}
	}
	if k := len(*n.loops.Load()); k < count {
		return fmt.Errorf("engine: found %d of %d event loops", k, count)
	}
	return nil
}

func (n *Node) enrollProbe(eng gnet.Engine) error {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	peer := os.NewFile(uintptr(fds[1]), "probe-peer")
	defer peer.Close()
	f := os.NewFile(uintptr(fds[0]), "probe")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return err
	}
	defer c.Close() // gnet enrolls a duplicate
	ch, err := eng.Register(gnet.NewNetConnContext(context.Background(), c))
	if err != nil {
		return err
	}
	return (<-ch).Err
}

// isProbe reports whether a gnet connection is one of discoverLoops' socket pairs.
func isProbe(gc gnet.Conn) bool {
	_, ok := gc.LocalAddr().(*net.UnixAddr)
	return ok
}
