package authredis

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
)

// TestPipelines: many clients authenticating at once through one connection get their own
// answers (every reply goes to the command it answers: right password allowed, wrong one
// refused, unknown user ignored), and the commands share pipelines instead of one round trip
// each.
func TestPipelines(t *testing.T) {
	s := needRedis(t)
	r := s.client(t)
	const users = 300
	for i := range users {
		do(t, r, "HSET", fmt.Sprintf("mqtt_user:pipe-%d", i), "password", fmt.Sprintf("pw-%d", i))
	}
	p, _ := newPlugin(t, s, func(c *Config) { c.Pool = 1 })
	const clients = 3 * users
	got := make([]engine.AuthResult, clients)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := i % users
			ci := &engine.ClientInfo{ClientID: fmt.Sprint("c", i), Username: fmt.Sprintf("pipe-%d", u), HasPass: true}
			switch i / users {
			case 0:
				ci.Password = []byte(fmt.Sprintf("pw-%d", u))
			case 1:
				ci.Password = []byte(fmt.Sprintf("pw-%d", u+1))
			case 2:
				ci.Username = fmt.Sprintf("pipe-unknown-%d", u)
			}
			<-start
			got[i] = p.Authenticate(context.Background(), ci)
		}()
	}
	close(start)
	wg.Wait()
	for i, res := range got {
		want := []engine.AuthDecision{engine.AuthAllow, engine.AuthDeny, engine.AuthIgnore}[i/users]
		if res.Decision != want {
			t.Fatalf("client %d: decision %d (%s), want %d", i, res.Decision, res.Reason, want)
		}
		if want == engine.AuthDeny && res.Code != codec.BadUserNameOrPassword {
			t.Fatalf("client %d: code %#x, want bad user name or password", i, res.Code)
		}
	}
	// One auth_cmd per client, and super_cmd for each one allowed.
	if n, sent := p.batch.pipelines.Load(), p.Stats().Queries; sent != clients+users || n*4 > sent {
		t.Errorf("%d commands in %d pipelines, want %d commands in at most a quarter as many pipelines", sent, n, clients+users)
	}
}

// TestClosedPlugin: a command of a closed plugin fails at once with "server unavailable".
func TestClosedPlugin(t *testing.T) {
	s := needRedis(t)
	p, _ := newPlugin(t, s, nil)
	p.Close()
	res := p.Authenticate(context.Background(), &engine.ClientInfo{ClientID: "c", Username: "u", Password: []byte("p"), HasPass: true})
	if res.Decision != engine.AuthDeny || res.Code != codec.ServerUnavailable {
		t.Errorf("after Close: %+v, want a denial with server unavailable", res)
	}
}
