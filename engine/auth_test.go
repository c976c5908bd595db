package engine

import (
	"context"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// gateAuth is an authenticator that holds every decision until the test releases it, the way
// a slow network backend would, and accepts only the password "secret".
type gateAuth struct{ release chan struct{} }

func (g *gateAuth) Name() string { return "gate" }

func (g *gateAuth) Authenticate(ctx context.Context, c *ClientInfo) AuthResult {
	if c.Username == "slow" {
		select {
		case <-g.release:
		case <-ctx.Done():
			return AuthResult{Decision: AuthDeny, Code: codec.ServerUnavailable}
		}
	}
	if string(c.Password) == "secret" {
		return AuthResult{Decision: AuthAllow}
	}
	if c.Username == "" {
		return AuthResult{Decision: AuthIgnore}
	}
	return AuthResult{Decision: AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "wrong password"}
}

func TestBlockingAuthenticationDoesNotBlockTheLoop(t *testing.T) {
	gate := &gateAuth{release: make(chan struct{})}
	n, addr := testNode(t, func(c *Config) { c.LoopCount = 1; c.AllowAnonymous = false })
	n.SetAuthenticators(gate)

	// A slow client sends CONNECT and, without waiting, SUBSCRIBE.
	slow := &client{rawConn: dialRaw(t, addr), v: codec.V5}
	slow.send(connectPacket(codec.V5, "slow", func(c *codec.Connect) {
		c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = true, []byte("slow"), true, []byte("secret")
	}))
	slow.send(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{sub("s/#", 0)}}, codec.V5))

	// Meanwhile, on the same (single) loop, other clients connect and exchange messages.
	withPass := func(c *codec.Connect) {
		c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = true, []byte("u"), true, []byte("secret")
	}
	a, ack := connectRaw(t, addr, codec.V5, "a", withPass)
	if ack.Code != 0 {
		t.Fatalf("fast client refused: %v", ack.Code)
	}
	a.subscribe(1, 0, sub("t", 0))
	b, _ := connectRaw(t, addr, codec.V5, "b", withPass)
	b.publish(&codec.Publish{Topic: []byte("t"), Payload: []byte("while waiting")})
	if m := a.recvPublish(); string(m.Payload) != "while waiting" {
		t.Fatal(m)
	}
	slow.silent(200 * time.Millisecond) // still parked

	close(gate.release)
	if ack := slow.connack(); ack.Code != 0 {
		t.Fatalf("slow client: %v", ack.Code)
	}
	slow.expect(codec.TypeSuback) // the pipelined SUBSCRIBE was kept and handled
	b.publish(&codec.Publish{Topic: []byte("s/1"), Payload: []byte("after")})
	if m := slow.recvPublish(); string(m.Payload) != "after" {
		t.Fatal(m)
	}

	// Wrong password: denied with the authenticator's code; no username: ignored by the
	// chain, then refused by allow_anonymous = false.
	_, ack = connectRaw(t, addr, codec.V5, "bad", func(c *codec.Connect) {
		c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = true, []byte("u"), true, []byte("nope")
	})
	if ack.Code != codec.BadUserNameOrPassword {
		t.Fatalf("wrong password: %v", ack.Code)
	}
	_, ack = connectRaw(t, addr, codec.V311, "anon", nil)
	if ack.Code.V3ConnackCode() != 5 {
		t.Fatalf("anonymous: %v", ack.Code)
	}
}
