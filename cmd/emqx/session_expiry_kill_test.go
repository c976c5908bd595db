package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// connect5 opens an MQTT 5 connection with clean start off and the given session expiry
// interval, and returns the client and whether the broker said session present.
func connect5(t *testing.T, port int, id string, expiry uint32) (*mqttClient, bool) {
	t.Helper()
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	m := &mqttClient{c: c, r: bufio.NewReader(c)}
	cp := &codec.Connect{Version: codec.V5, ClientID: []byte(id), KeepAlive: 60}
	cp.Props.SetSessionExpiry(expiry)
	c.Write(codec.AppendConnect(nil, cp))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	pkt, err := m.read()
	if err != nil || pkt[0] != 0x20 || len(pkt) < 5 || pkt[3] != 0 {
		t.Fatalf("%s: CONNACK % x: %v", id, pkt, err)
	}
	c.SetReadDeadline(time.Time{})
	return m, pkt[2]&1 != 0
}

// subscribe5 subscribes m to filter at QoS 1 and waits for the SUBACK.
func (m *mqttClient) subscribe5(t *testing.T, filter string) {
	t.Helper()
	m.c.Write(codec.AppendSubscribe(nil, &codec.Subscribe{PacketID: 1, Subs: []codec.Subscription{{Filter: []byte(filter), QoS: 1}}}, codec.V5))
	m.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if pkt, err := m.read(); err != nil || codec.PacketType(pkt[0]>>4) != codec.TypeSuback || pkt[len(pkt)-1] != 1 {
		t.Fatalf("SUBACK % x: %v", pkt, err)
	}
	m.c.SetReadDeadline(time.Time{})
}

// sessionKnown asks the node's HTTP API whether it holds a session for id (online or not).
func sessionKnown(t *testing.T, api string, id string) bool {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+api+"/api/v4/sessions/"+id, nil)
	req.SetBasicAuth("admin", "public")
	var resp *http.Response
	var err error
	for wait := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) { // the API starts after the MQTT listeners
		if resp, err = (&http.Client{Timeout: 5 * time.Second}).Do(req); err == nil || time.Now().After(wait) {
			break
		}
	}
	if err != nil {
		t.Fatalf("session lookup %s: %v", id, err)
	}
	defer resp.Body.Close()
	var r struct {
		Data []struct {
			ClientID string `json:"client_id"`
		} `json:"data"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&r) != nil {
		t.Fatalf("session lookup %s: %s", id, resp.Status)
	}
	return len(r.Data) == 1 && r.Data[0].ClientID == id
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// TestSessionExpiryAcrossKill9: persistent sessions restored from the store after a SIGKILL
// expire when they should, with a real broker process:
//   - offline at the crash, expiry passed while the broker was down: gone at the restart;
//   - offline at the crash, expiry due after the restart: gone at its original time (the
//     disconnect plus the interval), not an interval after the restart;
//   - online at the crash: gone an interval after the restart (when it went offline, as far
//     as anyone can tell);
//   - long expiries, offline and online: still there afterwards, session present on
//     reconnect, and the offline one gets the QoS 1 messages queued for it before the crash.
func TestSessionExpiryAcrossKill9(t *testing.T) {
	emqx, _ := buildBinaries(t)
	work := t.TempDir()
	env, port := persistEnv(t, work, "always")
	api := envValue(env, "EMQX_MANAGEMENT__LISTENER__HTTP")
	const short = 10 // seconds
	nd := startNode(t, emqx, work, env, port)

	offline := func(id string, expiry uint32) time.Time {
		m, present := connect5(t, port, id, expiry)
		if present {
			t.Fatalf("%s: session present on its first connection", id)
		}
		m.subscribe5(t, "exp/t")
		m.c.Write(codec.AppendDisconnect(nil, &codec.Disconnect{}, codec.V5))
		m.c.Close()
		return time.Now()
	}
	passedAt := offline("passed", 5)
	shortOffAt := offline("short-off", short)
	offline("long-off", 3600)
	longOn, _ := connect5(t, port, "long-on", 3600)
	longOn.subscribe5(t, "exp/other")
	shortOn, _ := connect5(t, port, "short-on", short)
	shortOn.subscribe5(t, "exp/other")
	defer longOn.c.Close()
	defer shortOn.c.Close()

	pub, err := dialMQTT(port, "exp-pub")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		pub.publish("exp/t", "m"+strconv.Itoa(i), 1, false, uint16(i))
		pub.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if pkt, err := pub.read(); err != nil || codec.PacketType(pkt[0]>>4) != codec.TypePuback {
			t.Fatalf("PUBACK % x: %v", pkt, err)
		}
	}
	pub.c.Close()
	for _, id := range []string{"passed", "short-off", "long-off", "long-on", "short-on"} {
		if !sessionKnown(t, api, id) {
			t.Fatalf("before the crash: no session %s", id)
		}
	}
	if took := time.Since(passedAt); took > 4*time.Second {
		// Not the broker's failure, but nothing is tested: fail in CI, skip elsewhere.
		if os.Getenv("CI") == "true" {
			t.Fatalf("the set-up took %v: the session meant to expire during the downtime is already gone", took)
		}
		t.Skipf("the box is too slow for this test's timings: the set-up took %v", took)
	}
	nd.kill(t, syscall.SIGKILL)
	// Down until "passed" is past due; "short-off" then has about 4 s left.
	time.Sleep(time.Until(passedAt.Add(6 * time.Second)))
	restart := time.Now()
	nd = startNode(t, emqx, work, env, port)
	defer nd.kill(t, syscall.SIGTERM)
	t.Logf("restarted in %v", time.Since(restart).Round(time.Millisecond))
	if sessionKnown(t, api, "passed") {
		t.Fatal("session whose expiry passed while the broker was down was restored")
	}

	// Poll until both short sessions are gone; note when each was last seen and first missed.
	shortOffDue := shortOffAt.Add(short * time.Second)
	shortOnDue := restart.Add(short * time.Second) // the store is loaded after this moment
	type seen struct{ last, gone time.Time }
	got := map[string]*seen{"short-off": {}, "short-on": {}}
	deadline := shortOnDue.Add(20 * time.Second)
	for got["short-off"].gone.IsZero() || got["short-on"].gone.IsZero() {
		if time.Now().After(deadline) {
			t.Fatalf("short sessions still there 20 s after their due time: %+v %+v", got["short-off"], got["short-on"])
		}
		for id, s := range got {
			if !s.gone.IsZero() {
				continue
			}
			asked := time.Now()
			if sessionKnown(t, api, id) {
				s.last = asked
			} else {
				s.gone = asked
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Expired too early: missing at a lookup made more than a clock's slack before its due time
	// (the session timers fire on a 100 ms-grained wheel).
	for id, due := range map[string]time.Time{"short-off": shortOffDue, "short-on": shortOnDue} {
		s := got[id]
		t.Logf("%s: due %v after the restart; last seen at %v, missing at %v", id,
			due.Sub(restart).Round(time.Millisecond), s.last.Sub(restart).Round(time.Millisecond), s.gone.Sub(restart).Round(time.Millisecond))
		if s.gone.Before(due.Add(-500 * time.Millisecond)) {
			t.Errorf("%s expired %v before its due time", id, due.Sub(s.gone))
		}
	}
	// Expired too late: "short-off" must not have been given a new interval at the restart;
	// its due time is at least 4 s before "short-on"'s, so anything close to that is a reset.
	if late := got["short-off"].gone.Sub(shortOffDue); late > (shortOnDue.Sub(shortOffDue))*3/4 {
		t.Errorf("short-off expired %v after its due time: its interval was restarted at the load", late)
	}

	// The long sessions are there, the offline one with its queued messages.
	for _, id := range []string{"long-off", "long-on"} {
		if !sessionKnown(t, api, id) {
			t.Fatalf("session %s missing after the restart", id)
		}
	}
	m, present := connect5(t, port, "long-off", 3600)
	defer m.c.Close()
	if !present {
		t.Fatal("long-off: session not present after the restart")
	}
	var payloads []string
	m.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(payloads) < 3 {
		pkt, err := m.read()
		if err != nil {
			t.Fatalf("long-off: queued messages: got %v, then %v", payloads, err)
		}
		var p codec.Publish
		if codec.PacketType(pkt[0]>>4) != codec.TypePublish || p.Decode(pkt, codec.V5) != nil {
			t.Fatalf("long-off: packet % x", pkt)
		}
		payloads = append(payloads, string(p.Payload))
		m.c.Write(codec.AppendAck(nil, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}, codec.V5))
	}
	if fmt.Sprint(payloads) != "[m1 m2 m3]" {
		t.Fatalf("long-off: queued messages %v, want m1 m2 m3", payloads)
	}
	if _, present := connect5(t, port, "long-on", 3600); !present {
		t.Fatal("long-on: session not present after the restart")
	}
}
