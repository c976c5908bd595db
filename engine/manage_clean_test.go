package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// TestCleanSession: an offline persistent session is ended at once (its delayed will goes
// out, its subscription no longer routes, the persistent count drops); a connected one and a
// missing one are refused.
func TestCleanSession(t *testing.T) {
	n, addr := testNode(t, nil)
	r := willWatcher(t, addr)
	raw, _ := mustConnect(t, addr, codec.V5, "parked", withWill("will/parked", "bye", 1, false, func(c *codec.Connect) {
		c.CleanStart = false
		c.Props.SetSessionExpiry(3600)
		c.WillProps.SetWillDelay(3600)
	}))
	if rc := raw.subscribe(1, 0, codec.Subscription{Filter: []byte("parked/#"), QoS: 1}); rc[0] != 1 {
		t.Fatalf("SUBACK %v", rc)
	}
	if err := n.CleanSession("parked"); !errors.Is(err, ErrSessionOnline) {
		t.Fatalf("CleanSession of a connected client: %v", err)
	}
	raw.c.Close()
	waitFor(t, 5*time.Second, "the session to go offline", func() bool {
		si, err := n.Session("parked")
		return err == nil && !si.Connected
	})
	if st := n.Stats(); st.PersistentSessions != 1 {
		t.Fatalf("persistent sessions %d, want 1", st.PersistentSessions)
	}
	r.none(t, 100*time.Millisecond) // the will waits for its delay

	if err := n.CleanSession("parked"); err != nil {
		t.Fatal(err)
	}
	r.expectMsg(t, "will/parked", "bye")
	if _, err := n.Session("parked"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session after CleanSession: %v", err)
	}
	if st := n.Stats(); st.PersistentSessions != 0 || st.Subscriptions != 1 { // the watcher's
		t.Fatalf("after CleanSession: %+v", st)
	}
	if k, err := n.Publish("parked/1", []byte("x"), 1, false, ""); err != nil || k != 0 {
		t.Fatalf("publish to the cleaned session's filter: %d receivers, %v", k, err)
	}
	if err := n.CleanSession("parked"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("second CleanSession: %v", err)
	}
	// A new connection starts afresh.
	if _, ack := mustConnect(t, addr, codec.V5, "parked", func(c *codec.Connect) { c.CleanStart = false }); ack.SessionPresent {
		t.Fatal("session present after CleanSession")
	}
}
