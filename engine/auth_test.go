package engine

import (
	"context"
	"errors"
	"io"
	"os"
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

// A client that hangs up while its authentication is pending must leave nothing behind: no
// session in the registry (which would be "online" for a dead connection, never expire and
// take over a live session with the same client id), no will, and no input kept.
func TestCloseDuringPendingAuthentication(t *testing.T) {
	gate := &gateAuth{release: make(chan struct{})}
	n, addr := testNode(t, func(c *Config) { c.LoopCount = 1; c.AllowAnonymous = false })
	n.SetAuthenticators(gate)

	watcher := &client{rawConn: dialRaw(t, addr), v: codec.V5}
	watcher.send(connectPacket(codec.V5, "watcher", func(c *codec.Connect) {
		c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = true, []byte("u"), true, []byte("secret")
	}))
	if ack := watcher.connack(); ack.Code != 0 {
		t.Fatalf("watcher refused: %v", ack.Code)
	}
	watcher.subscribe(1, 0, sub("will/#", 0))

	const clients = 20
	for i := range clients {
		c := dialRaw(t, addr)
		c.send(connectPacket(codec.V5, "ghost", func(p *codec.Connect) {
			p.UsernameFlag, p.Username, p.PasswordFlag, p.Password = true, []byte("slow"), true, []byte("secret")
			p.WillFlag, p.WillTopic, p.WillPayload = true, []byte("will/ghost"), []byte{byte(i)}
		}))
		c.c.Close()
	}
	// Every ghost's CONNECT has been read (parked at the gate) and its close handled. Waiting for
	// the connection count alone is not enough: it is already 1 before the loop has accepted the
	// ghosts, and a ghost read after the release would be authenticated before its close is seen:
	// a client that connected and then vanished, whose will is rightly published.
	waitFor(t, 5*time.Second, "21 CONNECTs read and 1 connection open", func() bool {
		return metric(n, "packets.connect") == clients+1 && n.Stats().Connections == 1
	})
	close(gate.release) // every parked CONNECT now gets its (positive) answer
	watcher.silent(300 * time.Millisecond)
	if got := n.Stats().Sessions; got != 1 {
		t.Fatalf("registry holds %d sessions, want only the watcher's", got)
	}

	// The client id of the dead connections is free: a live client takes it without
	// anybody being taken over, and its session is new.
	live, ack := connectRaw(t, addr, codec.V5, "ghost", func(c *codec.Connect) {
		c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = true, []byte("u"), true, []byte("secret")
	})
	if ack.Code != 0 || ack.SessionPresent {
		t.Fatalf("live client: code %v, session present %v", ack.Code, ack.SessionPresent)
	}
	live.silent(100 * time.Millisecond)
	watcher.silent(100 * time.Millisecond) // and no will was published
}

// While a CONNECT waits for its authenticator, the input that follows it is kept for
// later, but not without bound: past the zone's maximum packet size the connection closes.
func TestPendingAuthenticationInputIsBounded(t *testing.T) {
	gate := &gateAuth{release: make(chan struct{})}
	defer close(gate.release)
	n, addr := testNode(t, func(c *Config) {
		c.LoopCount = 1
		c.AllowAnonymous = false
		c.Listeners[0].Zone.MaxPacketSize = 64 << 10
	})
	n.SetAuthenticators(gate)
	c := dialRaw(t, addr)
	c.send(connectPacket(codec.V5, "flood", func(p *codec.Connect) {
		p.UsernameFlag, p.Username, p.PasswordFlag, p.Password = true, []byte("slow"), true, []byte("secret")
	}))
	chunk := codec.AppendPublish(nil, &codec.Publish{Topic: []byte("t"), Payload: make([]byte, 16<<10)}, codec.V5)
	go func() {
		for range 64 { // 1 MiB in all, far above the limit
			if _, err := c.c.Write(chunk); err != nil {
				return
			}
		}
	}()
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c.r); err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the broker kept buffering input of a connection waiting for its authenticator")
	}
	waitConns(t, n, 0)
}
