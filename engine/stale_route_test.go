package engine

import (
	"context"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2/pkg/netpoll"

	"github.com/emqgo/emqgo/codec"
)

// rawLoop returns the loop that holds the raw connection rc (before its CONNECT).
func rawLoop(t *testing.T, n *Node, rc *rawConn) *loop {
	t.Helper()
	want := addrPort(rc.c.LocalAddr())
	var found *loop
	waitFor(t, 5*time.Second, "the connection opened on a loop", func() bool {
		for _, l := range *n.loops.Load() {
			if l.el == nil {
				continue
			}
			on, err := runOnLoop(context.Background(), l, func() bool {
				for _, c := range l.conns {
					if c != nil && addrPort(c.tr.RemoteAddr()) == want {
						return true
					}
				}
				return false
			})
			if err != nil {
				t.Fatal(err)
			}
			if on {
				found = l
				return true
			}
		}
		return false
	})
	return found
}

// TestTakeoverRaceLeavesNoStaleRoute is the leak the soak found (engine/reliability.md): a
// connection whose session was just taken over by a connection on another loop keeps reading
// until the takeover's close of it runs on its own loop. A SUBSCRIBE it sent meanwhile used to
// reach the session: after a clean-start takeover (the old session ended) its route stayed in
// the index for good, held by a session nothing would ever end; after a takeover that resumes
// the session, the old connection's filter was added to the new owner's session, stored, and
// restored after a restart. The race is set up deterministically: the old connection's loop
// is blocked with enough queued tasks behind it that the takeover's close runs after the next
// batch of input.
func TestTakeoverRaceLeavesNoStaleRoute(t *testing.T) {
	cases := []struct {
		name  string
		clean bool // the new connection starts clean: the old session ends
	}{
		{"clean start ends the session", true},
		{"resumed session", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			n, addr := testNode(t, func(c *Config) { c.Store = openTestStore(t, dir) })
			persistent := func(c *codec.Connect) { c.CleanStart = false; c.Props.SetSessionExpiry(60) }
			old, _ := mustConnect(t, addr, codec.V5, "x", persistent)
			if codes := old.subscribe(1, 0, sub("kept/x", 1)); codes[0] != 1 {
				t.Fatalf("SUBACK %v", codes)
			}
			la := loopOf(t, n, "x")
			// The new connection, on the other loop (SO_REUSEPORT spreads them by hash).
			var fresh *client
			for attempt := 0; fresh == nil; attempt++ {
				if attempt == 50 {
					t.Fatal("50 connections all landed on the old connection's loop")
				}
				rc := dialRaw(t, addr)
				if rawLoop(t, n, rc) != la {
					fresh = &client{rawConn: rc, v: codec.V5}
				} else {
					rc.c.Close()
				}
			}

			release := blockLoop(t, la)
			old.send(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 2, Subs: []codec.Subscription{sub("stale/x", 1)}}, codec.V5))
			// gnet runs every task of its urgent queue (where tasks go until it holds
			// MaxPollEventsCap), then at most MaxAsyncTasksAtOneTime of the other queue per
			// wake-up, after the input of that wake-up: with more tasks than both, the
			// takeover's close queued below waits for the next round, after the SUBSCRIBE.
			for range netpoll.MaxPollEventsCap + netpoll.MaxAsyncTasksAtOneTime + 64 {
				if err := la.el.Execute(context.Background(), runFunc(func() {})); err != nil {
					release()
					t.Fatal(err)
				}
			}
			mutate := persistent
			if tc.clean {
				mutate = func(c *codec.Connect) { c.CleanStart = true; c.Props.SetSessionExpiry(60) }
			}
			fresh.send(connectPacket(codec.V5, "x", mutate))
			ack := fresh.connack()
			release()
			if ack.Code != codec.Success || ack.SessionPresent == tc.clean {
				t.Fatalf("takeover CONNACK %v, session present %v", ack.Code, ack.SessionPresent)
			}
			// The old connection's SUBSCRIBE was handled before its close (else the race was
			// not set up): it is refused, then the connection is closed as taken over.
			pkts := old.closed()
			if len(pkts) != 2 || codec.PacketType(pkts[0][0]>>4) != codec.TypeSuback {
				t.Fatalf("old connection got % x, want SUBACK then DISCONNECT", pkts)
			}
			waitConns(t, n, 1)
			wantSubs := int64(1) // kept/x, resumed
			if tc.clean {
				wantSubs = 0
			}
			if got := n.Stats().Subscriptions; got != wantSubs {
				t.Fatalf("%d routes after the takeover, want %d (the taken-over connection's filter was added)", got, wantSubs)
			}
			var sa codec.Suback
			if err := sa.Decode(pkts[0], codec.V5); err != nil || len(sa.Codes) != 1 || sa.Codes[0] < 0x80 {
				t.Fatalf("SUBACK of the taken-over connection %v (%v), want a refusal", sa.Codes, err)
			}
			pub, _ := mustConnect(t, addr, codec.V311, "pub", nil)
			pubAcked(t, pub, "stale/x", 1, 1, "late")
			pubAcked(t, pub, "kept/x", 1, 2, "kept")
			if !tc.clean {
				p := fresh.recvPublish()
				if string(p.Topic) != "kept/x" {
					t.Fatalf("got %q first, want kept/x (stale/x is not the session's)", p.Topic)
				}
				fresh.ack(codec.TypePuback, p.PacketID)
			}
			fresh.send(codec.AppendPingreq(nil)) // also a fence for the PUBACK
			fresh.expect(codec.TypePingresp)
			fresh.silent(200 * time.Millisecond)

			// A restart on the same store brings back the session as the new connection made
			// it, and nothing of the old connection's SUBSCRIBE.
			fresh.c.Close()
			pub.c.Close()
			waitConns(t, n, 0)
			stopNode(t, n)
			n2, addr2 := testNode(t, func(c *Config) { c.Store = openTestStore(t, dir) })
			if got := n2.Stats().Subscriptions; got != wantSubs {
				t.Fatalf("%d routes restored, want %d", got, wantSubs)
			}
			back, ack := mustConnect(t, addr2, codec.V5, "x", persistent)
			if !ack.SessionPresent {
				t.Fatal("after the restart: the new connection's session is not present")
			}
			pub, _ = mustConnect(t, addr2, codec.V311, "pub", nil)
			pubAcked(t, pub, "stale/x", 1, 1, "late")
			back.silent(200 * time.Millisecond)
		})
	}
}
