package engine

import (
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// TestSessionLastConnection: an offline persistent session keeps its last connection's
// facts (who, from where, when, why it ended, its traffic); a connected one reports none.
func TestSessionLastConnection(t *testing.T) {
	n, addr := testNode(t, nil)
	before := time.Now().Add(-time.Second)
	c, _ := mustConnect(t, addr, codec.V311, "lc", func(p *codec.Connect) {
		p.CleanStart = false
		p.KeepAlive = 7
		p.Username, p.UsernameFlag = []byte("u1"), true
	})
	c.publish(&codec.Publish{Topic: []byte("x/1"), Payload: []byte("hello")})
	c.publish(&codec.Publish{Topic: []byte("x/1"), QoS: 1, PacketID: 1, Payload: []byte("hello")})
	c.recvAck(codec.TypePuback)
	if si, err := n.Session("lc"); err != nil || !si.Connected || si.Last != nil {
		t.Fatalf("connected session: %+v, %v", si, err)
	}
	local := c.c.LocalAddr().String()
	_ = c.c.Close() // no DISCONNECT: the peer just goes

	var si SessionInfo
	waitFor(t, 5*time.Second, "the session to go offline", func() bool {
		var err error
		si, err = n.Session("lc")
		return err == nil && !si.Connected
	})
	lc := si.Last
	if lc == nil {
		t.Fatalf("offline session without its last connection: %+v", si)
	}
	if lc.Username != "u1" || lc.Peer.String() != local || lc.Listener != "external" || lc.ProtoVersion != codec.V311 ||
		lc.KeepAlive != 7 || lc.CleanStart || lc.Counters.RecvPkt != 3 || lc.Counters.RecvMsg != 2 || lc.Counters.SendPkt != 2 {
		t.Fatalf("last connection %+v (peer want %s)", lc, local)
	}
	if lc.ConnectedAt.Before(before) || lc.DisconnectedAt.Before(lc.ConnectedAt) || time.Since(lc.DisconnectedAt) > time.Minute {
		t.Fatalf("last connection times %v .. %v", lc.ConnectedAt, lc.DisconnectedAt)
	}
	if w := ReasonWords(lc.Reason); w != "tcp_closed" {
		t.Fatalf("reason %q (%q), want tcp_closed", lc.Reason, w)
	}
	if page := n.Sessions(SessionQuery{}); len(page.Sessions) != 1 || page.Sessions[0].Last == nil || page.Sessions[0].Last.Username != "u1" {
		t.Fatalf("Sessions: %+v", page.Sessions)
	}

	// Back online: no last connection while connected; a DISCONNECT is "normal".
	c2, ack := mustConnect(t, addr, codec.V311, "lc", func(p *codec.Connect) { p.CleanStart = false })
	if !ack.SessionPresent {
		t.Fatal("session not resumed")
	}
	if si, _ := n.Session("lc"); !si.Connected || si.Last != nil {
		t.Fatalf("reconnected session: %+v", si)
	}
	c2.disconnect(codec.Success, nil)
	waitFor(t, 5*time.Second, "the session to go offline again", func() bool {
		si, _ = n.Session("lc")
		return !si.Connected && si.Last != nil
	})
	if si.Last.Username != "" || ReasonWords(si.Last.Reason) != "normal" {
		t.Fatalf("second last connection %+v", si.Last)
	}
}

func TestReasonWords(t *testing.T) {
	for in, want := range map[string]string{
		"client sent DISCONNECT":            "normal",
		codec.SessionTakenOver.String():     "takeovered",
		codec.KeepAliveTimeout.String():     "keepalive_timeout",
		"EOF":                               "tcp_closed",
		"read: EOF":                         "tcp_closed",
		"read: connection reset by peer":    "tcp_closed",
		"Administrative action":             "administrative_action",
		"closed by the broker":              "closed_by_the_broker",
		codec.ProtocolError.String() + "!!": "protocol_error",
	} {
		if got := ReasonWords(in); got != want {
			t.Errorf("ReasonWords(%q) = %q, want %q", in, got, want)
		}
	}
}
