package authldap

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/backend"
	"github.com/emqgo/emqgo/engine/service/authldap/slapdtest"
)

// TestOutage: slapd killed mid-run, then started again on its port. Meanwhile clients that
// need it are refused with "server unavailable" (0x88) and their ACL requests denied, while a
// superuser connected before and an anonymous client, who need no directory, are unaffected;
// the outage is logged once and alarmed once, not once per client; everything recovers when
// slapd is back, and the alarm is cleared. Then the same with slapd stuck (SIGSTOP): refusals
// come after the timeout and count as timeouts.
func TestOutage(t *testing.T) {
	needSlapd(t)
	s, err := slapdtest.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	s.AddDevice(t, "out-root", map[string][]string{"userPassword": {"pw"}, "isSuperuser": {"TRUE"}})
	s.AddDevice(t, "out-dev", map[string][]string{"userPassword": {"pw"}, "mqttPubSubTopic": {"dev/#"}})
	p, rec, alarms := newPlugin(t, s, func(c *Config) { c.Timeout = 500 * time.Millisecond })
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

	s.Stop()
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
	wantConnack(t, addr, "out-anon", "", "", rcSuccess) // needs no directory
	if n := rec.Count("ldap does not answer"); n != 1 {
		t.Errorf("outage logged %d times, want once", n)
	}
	if raised, _, active := alarms.Counts(); raised != 1 || !active {
		t.Errorf("alarm raised %d times (active %v), want once and active", raised, active)
	}
	if !p.Monitor().Down() {
		t.Error("monitor does not report the outage")
	}

	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	eventuallyAccepted(t, addr, "out-new", "out-dev", "pw")
	if got := subscribeCode(t, dev, "dev/c"); got != rcGrantedQoS1 {
		t.Errorf("subscribe after the outage: %#x", got)
	}
	if n := rec.Count("ldap answers again"); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
	if _, cleared, active := alarms.Counts(); cleared != 1 || active {
		t.Errorf("alarm cleared %d times (active %v), want once and inactive", cleared, active)
	}

	// Stuck: the kernel accepts connections, nothing answers.
	timeoutsBefore := p.Monitor().Get(backend.Timeouts)
	s.Pause(true)
	stuck := true
	defer func() {
		if stuck {
			s.Pause(false)
		}
	}()
	wantConnack(t, addr, "out-stuck", "out-dev", "pw", rcUnavailable)
	wantConnack(t, addr, "out-anon2", "", "", rcSuccess)
	if p.Monitor().Get(backend.Timeouts) == timeoutsBefore {
		t.Error("a request to a stuck server was not counted as a timeout")
	}
	s.Pause(false)
	stuck = false
	eventuallyAccepted(t, addr, "out-stuck", "out-dev", "pw")
	if n := p.Monitor().Get(backend.Outages); n != 2 || rec.Count("ldap does not answer") != 2 {
		t.Errorf("outages %d, logged %d, want 2 and 2", n, rec.Count("ldap does not answer"))
	}
	if raised, cleared, active := alarms.Counts(); raised != 2 || cleared != 2 || active {
		t.Errorf("alarms raised %d, cleared %d, active %v; want 2, 2, false", raised, cleared, active)
	}
	if t.Failed() {
		log, _ := os.ReadFile(filepath.Join(s.Dir, "slapd.log"))
		t.Logf("slapd log:\n%s", log)
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
			t.Fatalf("connect %q after the directory came back: %#x", clientID, rc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
