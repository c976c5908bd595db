package authredis

import (
	"os"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/acl"
)

// TestOutage: Redis killed mid-run, then started again on its port. Meanwhile clients that
// need it are refused with "server unavailable" (0x88) and their ACL requests denied, while a
// superuser connected before and an anonymous client, who need no Redis, are unaffected; the
// outage is logged once, not once per client; everything recovers when Redis is back. Then
// the same with Redis stuck (SIGSTOP): refusals come after the query timeout.
func TestOutage(t *testing.T) {
	needRedis(t)
	s, err := startRedisServer(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	r := s.client(t)
	fill := func() {
		do(t, r, "HSET", "mqtt_user:out-root", "password", "pw", "is_superuser", "1")
		do(t, r, "HSET", "mqtt_user:out-dev", "password", "pw")
		do(t, r, "HSET", "mqtt_acl:out-dev", "dev/#", "3")
	}
	fill()
	p, rec := newPlugin(t, s, func(c *Config) { c.QueryTimeout = 500 * time.Millisecond })
	addr := startNode(t, true, acl.Deny, p)
	root, rc := connect(t, addr, "out-root", "out-root", "pw")
	if root == nil {
		t.Fatalf("superuser refused: %#x", rc)
	}
	dev, rc := connect(t, addr, "out-dev", "out-dev", "pw")
	if dev == nil {
		t.Fatalf("out-dev refused: %#x", rc)
	}
	if got := subscribeCode(t, dev, "dev/a"); got != rcGrantedQoS1 {
		t.Fatalf("subscribe before the outage: %#x", got)
	}

	s.stop()
	for i := 0; i < 5; i++ {
		wantConnack(t, addr, "out-new", "out-dev", "pw", rcUnavailable)
	}
	if got := subscribeCode(t, dev, "dev/b"); got != rcNotAuthorized {
		t.Errorf("subscribe during the outage: %#x, want %#x", got, rcNotAuthorized)
	}
	if got := subscribeCode(t, root, "dev/#"); got != rcGrantedQoS1 {
		t.Errorf("superuser subscribe during the outage: %#x", got)
	}
	if got := publishCode(t, root, "any/topic"); got != rcSuccess {
		t.Errorf("superuser publish during the outage: %#x", got)
	}
	wantConnack(t, addr, "out-anon", "", "", rcSuccess) // needs no Redis
	if n := rec.Count("redis does not answer"); n != 1 {
		t.Errorf("outage logged %d times, want once", n)
	}

	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	fill() // the server keeps nothing across restarts (--save '')
	// The driver probes a server that refused connections once a second.
	eventuallyAccepted(t, addr, "out-new", "out-dev", "pw")
	if got := subscribeCode(t, dev, "dev/c"); got != rcGrantedQoS1 {
		t.Errorf("subscribe after the outage: %#x", got)
	}
	if n := rec.Count("redis answers again"); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}

	// Stuck: the kernel accepts connections, nothing answers.
	s.pause(true)
	stuck := true
	defer func() {
		if stuck {
			s.pause(false)
		}
	}()
	wantConnack(t, addr, "out-stuck", "out-dev", "pw", rcUnavailable)
	wantConnack(t, addr, "out-anon2", "", "", rcSuccess)
	s.pause(false)
	stuck = false
	eventuallyAccepted(t, addr, "out-stuck", "out-dev", "pw")
	st := p.Stats()
	if st.Outages != 2 || rec.Count("redis does not answer") != 2 {
		t.Errorf("outages %d, logged %d, want 2 and 2", st.Outages, rec.Count("redis does not answer"))
	}
	if t.Failed() {
		log, _ := os.ReadFile(s.dir + "/redis.log")
		t.Logf("redis log:\n%s", log)
	}
}

// eventuallyAccepted connects until the client is accepted, for up to 10 s.
func eventuallyAccepted(t *testing.T, addr, clientID, username, password string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, rc := connect(t, addr, clientID, username, password)
		if rc == rcSuccess {
			return
		}
		if rc != rcUnavailable || time.Now().After(deadline) {
			t.Fatalf("connect %q after Redis came back: %#x", clientID, rc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
