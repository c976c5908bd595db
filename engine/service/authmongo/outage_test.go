package authmongo

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/backend"
	"github.com/emqgo/emqgo/engine/service/authmongo/ferrettest"
)

// TestOutage: the server killed mid-run, then started again on its port (its data kept).
// Meanwhile clients that need it are refused with "server unavailable" (0x88) and their ACL
// requests denied, while a superuser connected before and an anonymous client are unaffected;
// the outage is logged once and alarmed once; everything recovers when the server is back, and
// the alarm is cleared. Then the same with the server stuck (SIGSTOP): refusals come after the
// query timeout and count as timeouts.
func TestOutage(t *testing.T) {
	needFerret(t)
	s, err := ferrettest.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	s.Insert(t, "mqtt_user", bson.M{"username": "out-root", "password": "pw", "is_superuser": true}, bson.M{"username": "out-dev", "password": "pw"})
	s.Insert(t, "mqtt_acl", bson.M{"username": "out-dev", "pubsub": bson.A{"dev/#"}})
	p, rec, alarms := newPlugin(t, s, func(c *Config) { c.QueryTimeout = 700 * time.Millisecond })
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
	for i := 0; i < 4; i++ {
		wantConnack(t, addr, "out-new", "out-dev", "pw", rcUnavailable)
	}
	if got := subscribeCode(t, dev, "dev/b"); got != rcNotAuthorized {
		t.Errorf("subscribe during the outage: %#x, want %#x", got, rcNotAuthorized)
	}
	if got := subscribeCode(t, root, "dev/#"); got != rcGrantedQoS1 {
		t.Errorf("superuser subscribe during the outage: %#x", got)
	}
	wantConnack(t, addr, "out-anon", "", "", rcSuccess)
	if n := rec.Count("mongodb does not answer"); n != 1 {
		t.Errorf("outage logged %d times, want once", n)
	}
	if raised, _, active := alarms.Counts(); raised != 1 || !active {
		t.Errorf("alarm raised %d times (active %v), want once and active", raised, active)
	}

	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	eventuallyAccepted(t, addr, "out-new", "out-dev", "pw")
	if got := subscribeCode(t, dev, "dev/c"); got != rcGrantedQoS1 {
		t.Errorf("subscribe after the outage: %#x", got)
	}
	if n := rec.Count("mongodb answers again"); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
	if _, cleared, active := alarms.Counts(); cleared != 1 || active {
		t.Errorf("alarm cleared %d times (active %v), want once and inactive", cleared, active)
	}

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
		t.Error("a query to a stuck server was not counted as a timeout")
	}
	s.Pause(false)
	stuck = false
	eventuallyAccepted(t, addr, "out-stuck", "out-dev", "pw")
	if n := p.Monitor().Get(backend.Outages); n != 2 || rec.Count("mongodb does not answer") != 2 {
		t.Errorf("outages %d, logged %d, want 2 and 2", n, rec.Count("mongodb does not answer"))
	}
	if t.Failed() {
		log, _ := os.ReadFile(filepath.Join(s.Dir, "ferretdb.log"))
		t.Logf("ferretdb log:\n%s", log)
	}
}

// eventuallyAccepted connects until the client is accepted, for up to 15 s.
func eventuallyAccepted(t *testing.T, addr, clientID, username, password string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
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
