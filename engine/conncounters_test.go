package engine

import (
	"bytes"
	"testing"

	"github.com/emqgo/emqgo/codec"
)

// TestConnCounters checks every traffic counter of a connection against the bytes and packets
// that crossed its socket, including a large payload written by reference (writev).
func TestConnCounters(t *testing.T) {
	n, addr := testNode(t, nil)
	c := &client{rawConn: dialRaw(t, addr), v: codec.V5}
	var sent, got ConnCounters
	send := func(b []byte, msg bool) {
		t.Helper()
		c.send(b)
		sent.RecvOct += uint64(len(b))
		sent.RecvPkt++
		if msg {
			sent.RecvMsg++
		}
	}
	recv := func(want codec.PacketType) {
		t.Helper()
		pkt := c.expect(want)
		got.SendOct += uint64(len(pkt))
		got.SendPkt++
		if want == codec.TypePublish {
			got.SendMsg++
		}
	}
	send(connectPacket(codec.V5, "counted", nil), false)
	recv(codec.TypeConnack)
	send(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{sub("t/#", 1)}}, codec.V5), false)
	recv(codec.TypeSuback)
	send(codec.AppendPublish(nil, &codec.Publish{Topic: []byte("t/small"), Payload: []byte("hello")}, codec.V5), true)
	recv(codec.TypePublish)
	big := bytes.Repeat([]byte("x"), 3*writevThreshold)
	send(codec.AppendPublish(nil, &codec.Publish{Topic: []byte("t/big"), Payload: big, QoS: 1, PacketID: 9}, codec.V5), true)
	recv(codec.TypePublish) // routed to the subscriber before the PUBACK is appended
	recv(codec.TypePuback)
	send(codec.AppendPingreq(nil), false)
	recv(codec.TypePingresp)

	snap, err := n.Client(mctx(t), "counted")
	if err != nil {
		t.Fatal(err)
	}
	want := ConnCounters{RecvOct: sent.RecvOct, RecvPkt: sent.RecvPkt, RecvMsg: sent.RecvMsg,
		SendOct: got.SendOct, SendPkt: got.SendPkt, SendMsg: got.SendMsg}
	if snap.Counters != want {
		t.Fatalf("counters %+v, want %+v", snap.Counters, want)
	}
	page, err := n.Clients(mctx(t), ClientQuery{ClientID: "counted"})
	if err != nil || len(page.Clients) != 1 || page.Clients[0].Counters != want {
		t.Fatalf("Clients: %+v, %v; want counters %+v", page, err, want)
	}
}
