package engine

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

func TestListenersInfo(t *testing.T) {
	n, addr := testNode(t, func(c *Config) {
		c.Listeners = append(c.Listeners, Listener{Kind: "tcp", Name: "internal", Addr: "127.0.0.1:0", Zone: c.Listeners[0].Zone, ProxyProtocol: true})
	})
	mustConnect(t, addr, codec.V311, "a", nil)
	mustConnect(t, addr, codec.V5, "b", nil)
	ls := n.Listeners()
	if len(ls) != 2 || ls[0].ID() != "tcp:external" || ls[1].ID() != "tcp:internal" {
		t.Fatalf("listeners %+v, want tcp:external then tcp:internal", ls)
	}
	ext, in := ls[0], ls[1]
	if ext.Addr != netip.MustParseAddrPort(addr) || !ext.Running || ext.ProxyProtocol || ext.MaxConnections != 10000 ||
		ext.Connections != 2 || ext.Acceptors != 2 {
		t.Fatalf("external: %+v", ext)
	}
	if in.Connections != 0 || !in.ProxyProtocol || in.MaxConnections != 0 || in.Addr.Port() == 0 {
		t.Fatalf("internal: %+v", in)
	}
}

// Stop refuses new connections (counted) and closes current ones, MQTT 5 clients with
// DISCONNECT 0x8B; the other listener keeps serving; start undoes it; restart runs the
// listener's Reload hook first and keeps the listener as it was when the hook fails.
func TestListenerStopStartRestart(t *testing.T) {
	reloads, failReload := 0, false
	n, addr := testNode(t, func(c *Config) {
		c.Listeners = append(c.Listeners, Listener{Kind: "tcp", Name: "internal", Addr: "127.0.0.1:0", Zone: c.Listeners[0].Zone})
		c.Listeners[0].Reload = func() error {
			reloads++
			if failReload {
				return errors.New("bad certificate")
			}
			return nil
		}
	})
	other := n.Addr("internal")
	v5c, _ := mustConnect(t, addr, codec.V5, "v5", nil)
	v3c, _ := mustConnect(t, addr, codec.V311, "v3", nil)
	keep, _ := mustConnect(t, other, codec.V5, "keep", nil)

	if err := n.StopListener("tcp:external"); err != nil {
		t.Fatal(err)
	}
	if d := v5c.closedWith(codec.ServerShuttingDown); string(d.Props.ReasonString) != "listener tcp:external stopped" {
		t.Fatalf("reason string %q", d.Props.ReasonString)
	}
	v3c.closedSilently()
	c := dialRaw(t, addr)
	c.send(connectPacket(codec.V311, "new", nil))
	c.refused()
	if got := metric(n, "connections.refused.listener_stopped"); got != 1 {
		t.Fatalf("connections.refused.listener_stopped = %d, want 1", got)
	}
	li := n.Listeners()[0]
	if li.Running || li.RefusedStopped != 1 || li.ClosedByStop != 2 {
		t.Fatalf("stopped listener: %+v", li)
	}
	waitFor(t, 5*time.Second, "stopped listener empty", func() bool { return n.Listeners()[0].Connections == 0 })
	keep.subscribe(1, 0, sub("still/here", 0)) // the other listener still serves
	if err := n.StopListener("tcp:external"); err == nil {
		t.Fatal("stopping a stopped listener succeeded")
	}

	if err := n.StartListener("mqtt:tcp:external"); err != nil { // EMQX 4's id form
		t.Fatal(err)
	}
	if err := n.StartListener("tcp:external"); err == nil {
		t.Fatal("starting a running listener succeeded")
	}
	after, _ := mustConnect(t, addr, codec.V5, "after", nil)

	if err := n.RestartListener("tcp:external"); err != nil || reloads != 1 {
		t.Fatalf("restart: %v, %d reloads", err, reloads)
	}
	after.closedWith(codec.ServerShuttingDown)
	mustConnect(t, addr, codec.V5, "restarted", nil)
	failReload = true
	if err := n.RestartListener("tcp:external"); err == nil || reloads != 2 || !n.Listeners()[0].Running {
		t.Fatalf("failed reload: %v, %d reloads, running %v; want an error and the listener untouched", err, reloads, n.Listeners()[0].Running)
	}
	if n.Listeners()[0].Connections != 1 {
		t.Fatalf("a failed reload closed connections: %+v", n.Listeners()[0])
	}

	for _, id := range []string{"tcp:nosuch", "external", "ssl:external"} {
		if err := n.StopListener(id); !errors.Is(err, ErrUnknownListener) {
			t.Fatalf("stop %q: %v, want ErrUnknownListener", id, err)
		}
	}
}
