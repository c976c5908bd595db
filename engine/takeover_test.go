package engine

import (
	"context"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// takeoverSide is one side of a session takeover: the protocol and session flags of a
// CONNECT.
type takeoverSide struct {
	name       string
	v          codec.Version
	clean      bool
	expiry     uint32 // MQTT 5 Session Expiry Interval at CONNECT
	disconnect bool   // old side only: sends DISCONNECT 0x04 setting expiry 0 before the takeover
}

// persistent reports whether the side's session outlives its connection.
func (s takeoverSide) persistent() bool {
	if s.v == codec.V5 {
		return s.expiry != 0 && !s.disconnect
	}
	return !s.clean
}

func (s takeoverSide) connect(will bool) func(*codec.Connect) {
	return func(c *codec.Connect) {
		c.CleanStart = s.clean
		if s.v == codec.V5 && s.expiry != 0 {
			c.Props.SetSessionExpiry(s.expiry)
		}
		if will {
			c.WillFlag, c.WillTopic, c.WillPayload, c.WillQoS = true, []byte("will/"+string(c.ClientID)), []byte("old"), 1
			if s.v == codec.V5 {
				// A delayed will is only published early when the session ends
				// [MQTT-3.1.3-9]: it tells whether the takeover ended the session.
				c.WillProps.SetWillDelay(60)
			}
		}
	}
}

// blockLoop stops loop l until the returned function is called: input arriving meanwhile is
// handled in one batch, before any close requested while handling it.
func blockLoop(t *testing.T, l *loop) (release func()) {
	t.Helper()
	running, done := make(chan struct{}), make(chan struct{})
	if err := l.el.Execute(context.Background(), runFunc(func() { close(running); <-done })); err != nil {
		t.Fatal(err)
	}
	<-running
	return func() { close(done) }
}

// TestTakeoverExpiryZero takes a session over in every combination of clean session and
// session expiry on both sides. A session with expiry 0 ends with its connection, also while
// a DISCONNECT that set expiry 0 is still closing it: the new connection starts fresh
// (Session Present 0, no old subscription) and the old will goes out at once. A persistent
// session is resumed unless the new connection starts clean, and the old delayed will then
// stays unpublished.
func TestTakeoverExpiryZero(t *testing.T) {
	t.Parallel()
	olds := []takeoverSide{
		{name: "311clean0", v: codec.V311},
		{name: "311clean1", v: codec.V311, clean: true},
		{name: "5exp0", v: codec.V5},
		{name: "5exp60", v: codec.V5, expiry: 60},
		{name: "5disc0", v: codec.V5, expiry: 60, disconnect: true},
	}
	news := []takeoverSide{
		{name: "311clean0", v: codec.V311},
		{name: "311clean1", v: codec.V311, clean: true},
		{name: "5exp0", v: codec.V5},
		{name: "5exp60", v: codec.V5, expiry: 60},
		{name: "5clean", v: codec.V5, clean: true, expiry: 60},
	}
	for _, o := range olds {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			// One loop: the race of a DISCONNECT and a takeover is set up by blocking it.
			n, addr := testNode(t, func(c *Config) { c.LoopCount = 1 })
			r := willWatcher(t, addr)
			pub, _ := mustConnect(t, addr, codec.V311, "pub", nil)
			pid := uint16(0)
			publish := func(topic, payload string) {
				pid++
				pub.publish(&codec.Publish{Topic: []byte(topic), QoS: 1, PacketID: pid, Payload: []byte(payload)})
				pub.recvAck(codec.TypePuback)
			}
			for _, nw := range news {
				id := o.name + "-" + nw.name
				old, _ := mustConnect(t, addr, o.v, id, o.connect(true))
				if codes := old.subscribe(1, 0, sub("state/"+id, 1)); codes[0] != 1 {
					t.Fatalf("%s: subscribe: %v", id, codes)
				}
				var fresh *client
				var ack *codec.Connack
				if o.disconnect {
					release := blockLoop(t, (*n.loops.Load())[0])
					old.send(codec.AppendDisconnect(nil, &codec.Disconnect{Code: codec.DisconnectWithWillMessage, Props: func() (p codec.Properties) { p.SetSessionExpiry(0); return }()}, codec.V5))
					fresh = &client{rawConn: dialRaw(t, addr), v: nw.v}
					fresh.send(connectPacket(nw.v, id, nw.connect(false)))
					time.Sleep(50 * time.Millisecond) // both are in the kernel: one batch
					release()
					ack = fresh.connack()
					if ack.Code != codec.Success {
						t.Fatalf("%s: CONNACK %v", id, ack.Code)
					}
					old.closedSilently()
				} else {
					fresh, ack = mustConnect(t, addr, nw.v, id, nw.connect(false))
					if o.v == codec.V5 {
						old.closedWith(codec.SessionTakenOver)
					} else {
						old.closedSilently()
					}
				}
				want := o.persistent() && !nw.clean
				if ack.SessionPresent != want {
					t.Fatalf("%s: session present %v, want %v", id, ack.SessionPresent, want)
				}
				// The old subscription is there exactly when the session was resumed.
				if codes := fresh.subscribe(2, 0, sub("fence/"+id, 1)); codes[0] != 1 {
					t.Fatalf("%s: subscribe: %v", id, codes)
				}
				publish("state/"+id, "kept")
				publish("fence/"+id, "fence")
				p := fresh.recvPublish()
				if want {
					if string(p.Topic) != "state/"+id {
						t.Fatalf("%s: resumed session lost its subscription: got %q first", id, p.Topic)
					}
					fresh.ack(codec.TypePuback, p.PacketID)
					p = fresh.recvPublish()
				}
				if string(p.Topic) != "fence/"+id {
					t.Fatalf("%s: got %q, want the fence (fresh session has no old subscription)", id, p.Topic)
				}
				fresh.ack(codec.TypePuback, p.PacketID)
				// MQTT 3.x wills have no delay: always sent when the connection is taken
				// over; the delayed MQTT 5 will only when the old session ended.
				if o.v != codec.V5 || !want {
					r.expectMsg(t, "will/"+id, "old")
				}
				fence(t, n, r, "will/fence")
				fresh.disconnect(0, nil)
			}
		})
	}
}
