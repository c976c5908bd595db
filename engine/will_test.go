package engine

import (
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/codec"
)

// willWatcher subscribes a paho v5 client to will/# at QoS 2.
func willWatcher(t *testing.T, addr string) *received {
	t.Helper()
	r := newReceived()
	c, _ := v5(t, addr, &paho.Connect{ClientID: "watcher", CleanStart: true}, r)
	sub5(t, c, "will/#", 2)
	return r
}

// withWill returns a connectPacket mutator that sets a will.
func withWill(topic, payload string, qos byte, retain bool, more func(*codec.Connect)) func(*codec.Connect) {
	return func(c *codec.Connect) {
		c.WillFlag, c.WillTopic, c.WillPayload, c.WillQoS, c.WillRetain = true, []byte(topic), []byte(payload), qos, retain
		if more != nil {
			more(c)
		}
	}
}

func TestWillOnKeepAliveTimeout(t *testing.T) {
	t.Parallel()
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			n, addr := testNode(t, nil)
			r := willWatcher(t, addr)
			start := time.Now()
			raw, _ := mustConnect(t, addr, v, "ka", withWill("will/ka", "gone", 1, false, func(c *codec.Connect) { c.KeepAlive = 1 }))
			// Nothing is sent: the broker must give up after 1.5 × keep alive.
			if v == codec.V5 {
				raw.closedWith(codec.KeepAliveTimeout)
			} else {
				raw.closedSilently()
			}
			if el := time.Since(start); el < 1400*time.Millisecond {
				t.Fatalf("closed after %v, before 1.5 × keep alive", el)
			}
			p := r.expectMsg(t, "will/ka", "gone")
			if p.QoS != 1 || p.Retain {
				t.Fatalf("will qos %d retain %v, want 1 false", p.QoS, p.Retain)
			}
			fence(t, n, r, "will/fence")
		})
	}
}

func TestWillOnSocketError(t *testing.T) {
	t.Parallel()
	for _, v := range []codec.Version{codec.V31, codec.V311, codec.V5} {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			n, addr := testNode(t, nil)
			r := willWatcher(t, addr)
			raw, _ := mustConnect(t, addr, v, "sock", withWill("will/sock", "lost", 0, false, nil))
			raw.c.Close() // no DISCONNECT
			r.expectMsg(t, "will/sock", "lost")
			fence(t, n, r, "will/fence") // and only once
		})
	}
}

func TestWillOnProtocolError(t *testing.T) {
	t.Parallel()
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			n, addr := testNode(t, nil)
			r := willWatcher(t, addr)
			raw, _ := mustConnect(t, addr, v, "proto", withWill("will/proto", "bad", 2, false, nil))
			raw.send([]byte{0x36, 0x05, 0, 1, 'x', 0, 1}) // PUBLISH with QoS 3
			if v == codec.V5 {
				raw.closedWith(codec.MalformedPacket)
			} else {
				raw.closedSilently()
			}
			p := r.expectMsg(t, "will/proto", "bad")
			if p.QoS != 2 {
				t.Fatalf("will qos %d, want 2", p.QoS)
			}
			fence(t, n, r, "will/fence")
		})
	}
}

func TestWillOnTakeover(t *testing.T) {
	t.Parallel()
	for _, clean := range []bool{false, true} {
		name := "resume"
		if clean {
			name = "clean"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n, addr := testNode(t, nil)
			r := willWatcher(t, addr)
			old, _ := mustConnect(t, addr, codec.V5, "twin", withWill("will/twin", "old", 1, false, func(c *codec.Connect) {
				c.CleanStart = false
				c.Props.SetSessionExpiry(60)
			}))
			_, ack := mustConnect(t, addr, codec.V5, "twin", func(c *codec.Connect) {
				c.CleanStart = clean
				c.Props.SetSessionExpiry(60)
			})
			if ack.SessionPresent == clean {
				t.Fatalf("session present %v with clean start %v", ack.SessionPresent, clean)
			}
			old.closedWith(codec.SessionTakenOver)
			r.expectMsg(t, "will/twin", "old")
			fence(t, n, r, "will/fence")
		})
	}
}

func TestWillV311OnTakeover(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, nil)
	r := willWatcher(t, addr)
	old, _ := mustConnect(t, addr, codec.V311, "twin3", withWill("will/twin3", "old", 0, false, nil))
	mustConnect(t, addr, codec.V311, "twin3", nil)
	old.closedSilently()
	r.expectMsg(t, "will/twin3", "old")
	fence(t, n, r, "will/fence")
}

func TestNoWillOnNormalDisconnect(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, nil)
	r := willWatcher(t, addr)
	// MQTT 5 with paho.golang.
	c, _ := v5(t, addr, &paho.Connect{ClientID: "polite5", CleanStart: true,
		WillMessage: &paho.WillMessage{Topic: "will/polite5", Payload: []byte("no"), QoS: 1}}, nil)
	if err := c.Disconnect(&paho.Disconnect{ReasonCode: 0}); err != nil {
		t.Fatal(err)
	}
	// MQTT 3.1.1 with a raw DISCONNECT.
	raw, _ := mustConnect(t, addr, codec.V311, "polite3", withWill("will/polite3", "no", 0, false, nil))
	raw.send([]byte{0xE0, 0})
	raw.closedSilently()
	waitConns(t, n, 1) // only the watcher left: both closes were handled
	fence(t, n, r, "will/fence")
}

func TestWillOnDisconnectWithWillMessage(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, nil)
	r := willWatcher(t, addr)
	c, _ := v5(t, addr, &paho.Connect{ClientID: "w04", CleanStart: true,
		WillMessage: &paho.WillMessage{Topic: "will/w04", Payload: []byte("asked"), QoS: 1}}, nil)
	if err := c.Disconnect(&paho.Disconnect{ReasonCode: byte(codec.DisconnectWithWillMessage)}); err != nil {
		t.Fatal(err)
	}
	r.expectMsg(t, "will/w04", "asked")
	fence(t, n, r, "will/fence")
}

func TestWillRetainAndQoS(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, nil)
	r := willWatcher(t, addr)
	r1 := newReceived()
	c1, _ := v5(t, addr, &paho.Connect{ClientID: "q1", CleanStart: true}, r1)
	sub5(t, c1, "will/kept", 1)
	raw, _ := mustConnect(t, addr, codec.V5, "keeper", withWill("will/kept", "bye", 2, true, nil))
	raw.c.Close()
	p := r.expectMsg(t, "will/kept", "bye")
	if p.QoS != 2 || p.Retain {
		t.Fatalf("live will: qos %d retain %v, want 2 false", p.QoS, p.Retain)
	}
	if p := r1.expectMsg(t, "will/kept", "bye"); p.QoS != 1 {
		t.Fatalf("will to a QoS 1 subscription came at QoS %d", p.QoS)
	}
	// The will was retained: a later subscriber gets it with the retain flag.
	r2 := newReceived()
	c2, _ := v5(t, addr, &paho.Connect{ClientID: "late", CleanStart: true}, r2)
	sub5(t, c2, "will/#", 2)
	p = r2.expectMsg(t, "will/kept", "bye")
	if !p.Retain || p.QoS != 2 {
		t.Fatalf("retained will: qos %d retain %v, want 2 true", p.QoS, p.Retain)
	}
	fence(t, n, r, "will/fence")
}

func TestWillDelayInterval(t *testing.T) {
	t.Parallel()
	n, addr := testNode(t, nil)
	r := willWatcher(t, addr)
	raw, _ := mustConnect(t, addr, codec.V5, "delayed", withWill("will/delayed", "late", 1, false, func(c *codec.Connect) {
		c.CleanStart = false
		c.Props.SetSessionExpiry(60)
		c.WillProps.SetWillDelay(1)
	}))
	closed := time.Now()
	raw.c.Close()
	r.none(t, 700*time.Millisecond)
	r.expectMsg(t, "will/delayed", "late")
	if el := time.Since(closed); el < 950*time.Millisecond {
		t.Fatalf("will delivered %v after the close, before its 1s delay", el)
	}
	fence(t, n, r, "will/fence")
}

func TestWillSuppressedWhenSessionResumes(t *testing.T) {
	t.Parallel()
	t.Run("reconnect", func(t *testing.T) {
		t.Parallel()
		n, addr := testNode(t, nil)
		r := willWatcher(t, addr)
		will := withWill("will/back", "never", 1, false, func(c *codec.Connect) {
			c.CleanStart = false
			c.Props.SetSessionExpiry(60)
			c.WillProps.SetWillDelay(1)
		})
		raw, _ := mustConnect(t, addr, codec.V5, "back", will)
		raw.c.Close()
		waitConns(t, n, 1)
		_, ack := mustConnect(t, addr, codec.V5, "back", func(c *codec.Connect) {
			c.CleanStart = false
			c.Props.SetSessionExpiry(60)
		})
		if !ack.SessionPresent {
			t.Fatal("session not resumed")
		}
		r.none(t, 1500*time.Millisecond)
		fence(t, n, r, "will/fence")
	})
	t.Run("takeover", func(t *testing.T) {
		t.Parallel()
		n, addr := testNode(t, nil)
		r := willWatcher(t, addr)
		old, _ := mustConnect(t, addr, codec.V5, "twin", withWill("will/twin", "never", 1, false, func(c *codec.Connect) {
			c.CleanStart = false
			c.Props.SetSessionExpiry(60)
			c.WillProps.SetWillDelay(1)
		}))
		mustConnect(t, addr, codec.V5, "twin", func(c *codec.Connect) {
			c.CleanStart = false
			c.Props.SetSessionExpiry(60)
		})
		old.closedWith(codec.SessionTakenOver)
		r.none(t, 1500*time.Millisecond)
		fence(t, n, r, "will/fence")
	})
}

func TestWillAtSessionEndBeforeDelay(t *testing.T) {
	t.Parallel()
	t.Run("expiry before delay", func(t *testing.T) {
		t.Parallel()
		n, addr := testNode(t, nil)
		r := willWatcher(t, addr)
		raw, _ := mustConnect(t, addr, codec.V5, "short", withWill("will/short", "ended", 1, false, func(c *codec.Connect) {
			c.CleanStart = false
			c.Props.SetSessionExpiry(1)
			c.WillProps.SetWillDelay(30)
		}))
		closed := time.Now()
		raw.c.Close()
		r.expectMsg(t, "will/short", "ended")
		if el := time.Since(closed); el < 950*time.Millisecond || el > 4*time.Second {
			t.Fatalf("will delivered %v after the close, want at the 1s session expiry", el)
		}
		fence(t, n, r, "will/fence")
	})
	t.Run("no session expiry", func(t *testing.T) {
		t.Parallel()
		n, addr := testNode(t, nil)
		r := willWatcher(t, addr)
		raw, _ := mustConnect(t, addr, codec.V5, "now", withWill("will/now", "ended", 1, false, func(c *codec.Connect) {
			c.WillProps.SetWillDelay(30)
		}))
		raw.c.Close()
		r.expectMsg(t, "will/now", "ended")
		fence(t, n, r, "will/fence")
	})
	t.Run("clean start takeover", func(t *testing.T) {
		t.Parallel()
		n, addr := testNode(t, nil)
		r := willWatcher(t, addr)
		old, _ := mustConnect(t, addr, codec.V5, "twin", withWill("will/twin", "ended", 1, false, func(c *codec.Connect) {
			c.CleanStart = false
			c.Props.SetSessionExpiry(60)
			c.WillProps.SetWillDelay(30)
		}))
		mustConnect(t, addr, codec.V5, "twin", nil) // clean start: the old session ends now
		old.closedWith(codec.SessionTakenOver)
		r.expectMsg(t, "will/twin", "ended")
		fence(t, n, r, "will/fence")
	})
}
