package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// asyncGate is gateAuth behind AuthWorkers, counting the checks that came through the
// asynchronous path.
type asyncGate struct {
	*AuthWorkers
	gate  *gateAuth
	async atomic.Int64
}

func newAsyncGate(workers int) *asyncGate {
	g := &asyncGate{gate: &gateAuth{release: make(chan struct{})}}
	g.AuthWorkers = NewAuthWorkers(g.gate, workers)
	return g
}

func (g *asyncGate) Name() string { return "async-gate" }

func (g *asyncGate) Authenticate(ctx context.Context, c *ClientInfo) AuthResult {
	return g.gate.Authenticate(ctx, c)
}

func (g *asyncGate) AuthenticateAsync(deadline time.Time, c *ClientInfo, done func(AuthResult)) {
	g.async.Add(1)
	g.AuthWorkers.AuthenticateAsync(deadline, c, done)
}

// idAuth allows one client id and ignores every other client: a synchronous link after an
// asynchronous one.
type idAuth struct{ id string }

func (a idAuth) Name() string { return "by-id" }

func (a idAuth) Authenticate(_ context.Context, c *ClientInfo) AuthResult {
	if c.ClientID == a.id {
		return AuthResult{Decision: AuthAllow}
	}
	return AuthResult{Decision: AuthIgnore}
}

// A chain whose first link is asynchronous decides as the synchronous chain does (allow, deny
// with the link's code, ignore to the next link, allow_anonymous last), through the link's
// callback; a client parked on a slow backend holds neither the loop nor the other clients.
func TestAsyncAuthenticationChain(t *testing.T) {
	g := newAsyncGate(2)
	t.Cleanup(g.Close)
	n, addr := testNode(t, func(c *Config) { c.LoopCount = 1; c.AllowAnonymous = false })
	n.SetAuthenticators(g, idAuth{"next"})

	slow := &client{rawConn: dialRaw(t, addr), v: codec.V5}
	slow.send(connectPacket(codec.V5, "slow", func(c *codec.Connect) {
		c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = true, []byte("slow"), true, []byte("secret")
	}))
	slow.send(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{sub("s/#", 0)}}, codec.V5))

	cases := []struct {
		id, user, pass string
		want           codec.ReasonCode
	}{
		{"good", "u", "secret", 0},                        // allowed by the asynchronous link
		{"bad", "u", "nope", codec.BadUserNameOrPassword}, // denied by it, with its code
		{"next", "", "", 0},                               // ignored by it (no user name), allowed by the next
		{"anon", "", "", codec.NotAuthorized},             // ignored by both: allow_anonymous = false
		{"next", "u", "x", codec.BadUserNameOrPassword},   // denied first: the next link is not asked
	}
	for _, tc := range cases {
		_, ack := connectRaw(t, addr, codec.V5, tc.id, func(c *codec.Connect) {
			if tc.user != "" {
				c.UsernameFlag, c.Username = true, []byte(tc.user)
			}
			if tc.pass != "" {
				c.PasswordFlag, c.Password = true, []byte(tc.pass)
			}
		})
		if ack.Code != tc.want {
			t.Errorf("%s/%s: CONNACK %v, want %v", tc.id, tc.user, ack.Code, tc.want)
		}
	}
	slow.silent(100 * time.Millisecond) // still parked, one worker busy with it

	close(g.gate.release)
	if ack := slow.connack(); ack.Code != 0 {
		t.Fatalf("slow client: %v", ack.Code)
	}
	slow.expect(codec.TypeSuback) // the pipelined SUBSCRIBE was kept and handled
	if got := g.async.Load(); got != int64(len(cases))+1 {
		t.Fatalf("%d checks went through AuthenticateAsync, want %d", got, len(cases)+1)
	}
}

// countingAuth records how many checks run at once and in which order, each taking hold.
type countingAuth struct {
	hold        time.Duration
	mu          sync.Mutex
	now, peak   int
	order       []string
	panicOnUser string
}

func (a *countingAuth) Name() string { return "counting" }

func (a *countingAuth) Authenticate(_ context.Context, c *ClientInfo) AuthResult {
	if c.Username == a.panicOnUser && a.panicOnUser != "" {
		panic("backend library bug")
	}
	a.mu.Lock()
	a.now++
	a.peak = max(a.peak, a.now)
	a.order = append(a.order, c.ClientID)
	a.mu.Unlock()
	time.Sleep(a.hold)
	a.mu.Lock()
	a.now--
	a.mu.Unlock()
	return AuthResult{Decision: AuthAllow}
}

// answers collects AuthWorkers' callbacks.
type answers struct {
	mu  sync.Mutex
	got map[string]AuthResult
	wg  sync.WaitGroup
}

func (r *answers) expect(n int) { r.got = map[string]AuthResult{}; r.wg.Add(n) }

func (r *answers) done(id string) func(AuthResult) {
	return func(res AuthResult) {
		r.mu.Lock()
		r.got[id] = res
		r.mu.Unlock()
		r.wg.Done()
	}
}

func TestAuthWorkersBoundConcurrencyAndKeepOrder(t *testing.T) {
	a := &countingAuth{hold: 2 * time.Millisecond}
	w := NewAuthWorkers(a, 3)
	defer w.Close()
	var r answers
	const clients = 60
	r.expect(clients)
	deadline := time.Now().Add(time.Minute)
	for i := range clients {
		id := string(rune('A' + i))
		w.AuthenticateAsync(deadline, &ClientInfo{ClientID: id}, r.done(id))
	}
	r.wg.Wait()
	if len(r.got) != clients {
		t.Fatalf("%d answers for %d clients", len(r.got), clients)
	}
	for id, res := range r.got {
		if res.Decision != AuthAllow {
			t.Fatalf("%s: %+v", id, res)
		}
	}
	if a.peak > 3 || a.peak < 2 {
		t.Fatalf("%d checks ran at once, want the workers busy together and never more than 3", a.peak)
	}

	// One worker takes the queue strictly in arrival order.
	one := &countingAuth{}
	w1 := NewAuthWorkers(one, 1)
	defer w1.Close()
	r.expect(clients)
	for i := range clients {
		id := string(rune('A' + i))
		w1.AuthenticateAsync(deadline, &ClientInfo{ClientID: id}, r.done(id))
	}
	r.wg.Wait()
	for i, id := range one.order {
		if want := string(rune('A' + i)); id != want {
			t.Fatalf("check %d was client %s, want %s: not in arrival order", i, id, want)
		}
	}
}

func TestAuthWorkersRefuse(t *testing.T) {
	a := &countingAuth{hold: 50 * time.Millisecond, panicOnUser: "boom"}
	w := NewAuthWorkers(a, 1)
	var r answers
	r.expect(4)
	w.AuthenticateAsync(time.Now().Add(-time.Second), &ClientInfo{ClientID: "late"}, r.done("late"))
	w.AuthenticateAsync(time.Now().Add(time.Minute), &ClientInfo{ClientID: "boom", Username: "boom"}, r.done("boom"))
	w.AuthenticateAsync(time.Now().Add(time.Minute), &ClientInfo{ClientID: "busy"}, r.done("busy"))
	w.AuthenticateAsync(time.Now().Add(time.Minute), &ClientInfo{ClientID: "queued"}, r.done("queued"))
	// "busy" holds the only worker for 50 ms: close while "queued" waits, and then ask once
	// more.
	for {
		a.mu.Lock()
		started := len(a.order) > 0
		a.mu.Unlock()
		if started {
			break
		}
		time.Sleep(time.Millisecond)
	}
	w.Close()
	r.wg.Wait()
	after := make(chan AuthResult, 1)
	w.AuthenticateAsync(time.Now().Add(time.Minute), &ClientInfo{ClientID: "after"}, func(res AuthResult) { after <- res })

	want := map[string]AuthDecision{"late": AuthDeny, "boom": AuthDeny, "busy": AuthAllow, "queued": AuthAllow}
	for id, d := range want {
		if got := r.got[id]; got.Decision != d || (d == AuthDeny && got.Code != codec.ServerUnavailable) {
			t.Errorf("%s: %+v, want decision %v (deny: server unavailable)", id, got, d)
		}
	}
	if got := <-after; got.Decision != AuthDeny || got.Code != codec.ServerUnavailable {
		t.Errorf("after Close: %+v", got)
	}
	if len(a.order) != 2 || a.order[0] != "busy" || a.order[1] != "queued" {
		t.Errorf("the backend was asked for %v; want busy then queued (late expired in the queue, boom panicked; what was queued before Close is still answered)", a.order)
	}
}
