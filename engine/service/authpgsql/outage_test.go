package authpgsql

import (
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/acl"
)

// TestOutage: PostgreSQL shut down mid-run (immediate: connections reset), then started again
// on its data. Meanwhile clients that need it are refused with "server unavailable" (0x88)
// and their ACL requests denied, while a superuser connected before and an anonymous client,
// who need no query, are unaffected; the outage is logged once, not once per client;
// everything recovers when the server is back. Then the same with the server stuck
// (SIGSTOP): refusals come after the query timeout.
func TestOutage(t *testing.T) {
	s := needPG(t)
	s.mustExec(t, "INSERT INTO mqtt_user (username, password, is_superuser) VALUES ('out-root', 'pw', true), ('out-dev', 'pw', false)")
	q := aclTable(t, s, "acl_out", `(1, NULL, 'out-dev', NULL, 3, 'dev/#')`)
	p, rec := newPlugin(t, s, func(c *Config) { c.QueryTimeout = 500 * time.Millisecond; c.ACLQuery = q })
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
	restarted := false
	defer func() {
		if !restarted {
			if err := s.start(); err != nil {
				t.Error(err)
			}
		}
	}()
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
	wantConnack(t, addr, "out-anon", "", "", rcSuccess) // needs no query
	if n := rec.Count("postgresql does not answer"); n != 1 {
		t.Errorf("outage logged %d times, want once", n)
	}

	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	eventuallyAccepted(t, addr, "out-new", "out-dev", "pw")
	if got := subscribeCode(t, dev, "dev/c"); got != rcGrantedQoS1 {
		t.Errorf("subscribe after the outage: %#x", got)
	}
	if n := rec.Count("postgresql answers again"); n != 1 {
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
	start := time.Now()
	wantConnack(t, addr, "out-stuck", "out-dev", "pw", rcUnavailable)
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("refused after %s, before the query timeout (500ms): was the server stuck?", d)
	}
	wantConnack(t, addr, "out-anon2", "", "", rcSuccess)
	s.pause(false)
	stuck = false
	eventuallyAccepted(t, addr, "out-stuck", "out-dev", "pw")
	st := p.Stats()
	if st.Outages != 2 || rec.Count("postgresql does not answer") != 2 {
		t.Errorf("outages %d, logged %d, want 2 and 2", st.Outages, rec.Count("postgresql does not answer"))
	}
	if t.Failed() {
		t.Logf("server log:\n%s", s.log())
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
			t.Fatalf("connect %q after the server came back: %#x", clientID, rc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
