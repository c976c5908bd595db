package engine

import (
	"strconv"
	"testing"

	"github.com/emqgo/emqgo/codec"
)

// A loop takes at most the round's bound of answers, in arrival order, and keeps the batch
// scheduled while some are left.
func TestTakeAnswersBoundsARound(t *testing.T) {
	var q authAnswers
	q.scheduled = true
	for i := 0; i < 150; i++ {
		q.queue = append(q.queue, authAnswer{req: connectRequest{clientID: strconv.Itoa(i)}, c: &conn{slot: int32(i)}})
	}
	for round, want := range []int{64, 64, 22} {
		more := q.takeAnswers(authAnswersPerRound)
		if len(q.work) != want {
			t.Fatalf("round %d: %d answers, want %d", round, len(q.work), want)
		}
		if first := int(q.work[0].c.slot); first != round*64 {
			t.Fatalf("round %d starts with answer %d, want %d (arrival order)", round, first, round*64)
		}
		if more != (round < 2) || q.scheduled != more {
			t.Fatalf("round %d: more %v, scheduled %v", round, more, q.scheduled)
		}
	}
}

// More parked CONNECTs than one round completes are all answered when their backend lets them
// go at once (the rest of each round comes back through the timer), pipelined packets
// included, while an established pair on the same loop keeps exchanging messages.
func TestManyAnswersAtOnceAreAllCompleted(t *testing.T) {
	gate := &gateAuth{release: make(chan struct{})}
	n, addr := testNode(t, func(c *Config) { c.LoopCount = 1; c.AllowAnonymous = false })
	n.SetAuthenticators(gate)
	withPass := func(user string) func(c *codec.Connect) {
		return func(c *codec.Connect) {
			c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = true, []byte(user), true, []byte("secret")
		}
	}
	const parked = 3*authAnswersPerRound + 10
	slow := make([]*client, parked)
	for i := range slow {
		slow[i] = &client{rawConn: dialRaw(t, addr), v: codec.V311}
		slow[i].send(connectPacket(codec.V311, "slow-"+strconv.Itoa(i), withPass("slow")))
		slow[i].send(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{sub("s/"+strconv.Itoa(i), 0)}}, codec.V311))
	}
	a, ack := connectRaw(t, addr, codec.V311, "a", withPass("u"))
	if ack.Code != 0 {
		t.Fatalf("established client refused: %v", ack.Code)
	}
	a.subscribe(1, 0, sub("t", 0))
	b, _ := connectRaw(t, addr, codec.V311, "b", withPass("u"))

	close(gate.release)
	b.publish(&codec.Publish{Topic: []byte("t"), Payload: []byte("during")})
	if m := a.recvPublish(); string(m.Payload) != "during" {
		t.Fatal(m)
	}
	for i, c := range slow {
		if ack := c.connack(); ack.Code != 0 {
			t.Fatalf("parked client %d: %v", i, ack.Code)
		}
		c.expect(codec.TypeSuback)
	}
	b.publish(&codec.Publish{Topic: []byte("s/" + strconv.Itoa(parked-1)), Payload: []byte("after")})
	if m := slow[parked-1].recvPublish(); string(m.Payload) != "after" {
		t.Fatal(m)
	}
}
