package sys

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/engine"
)

// guideTopics are the topics of the user guide's $SYS section under $SYS/brokers/<node>/.
var guideTopics = strings.Fields(`version uptime datetime sysdescr
stats/connections/count stats/connections/max
stats/sessions/count stats/sessions/max stats/sessions/persistent/count stats/sessions/persistent/max
stats/suboptions/count stats/suboptions/max stats/subscribers/max stats/subscribers/count
stats/subscriptions/max stats/subscriptions/count stats/subscriptions/shared/count stats/subscriptions/shared/max
stats/topics/count stats/topics/max stats/routes/count stats/routes/max
metrics/bytes/received metrics/bytes/sent
metrics/packets/received metrics/packets/sent metrics/packets/connect metrics/packets/connack
metrics/packets/publish/received metrics/packets/publish/sent
metrics/packets/puback/received metrics/packets/puback/sent metrics/packets/puback/missed
metrics/packets/pubrec/received metrics/packets/pubrec/sent metrics/packets/pubrec/missed
metrics/packets/pubrel/received metrics/packets/pubrel/sent metrics/packets/pubrel/missed
metrics/packets/pubcomp/received metrics/packets/pubcomp/sent metrics/packets/pubcomp/missed
metrics/packets/subscribe metrics/packets/suback metrics/packets/unsubscribe metrics/packets/unsuback
metrics/packets/pingreq metrics/packets/pingresp metrics/packets/disconnect/received metrics/packets/disconnect/sent
metrics/packets/auth
metrics/messages/received metrics/messages/sent metrics/messages/expired metrics/messages/retained
metrics/messages/dropped metrics/messages/forward
metrics/messages/qos0/received metrics/messages/qos0/sent metrics/messages/qos1/received metrics/messages/qos1/sent
metrics/messages/qos2/received metrics/messages/qos2/sent metrics/messages/qos2/expired metrics/messages/qos2/dropped`)

var (
	uptimeRE   = regexp.MustCompile(`^(\d+ days, )?(\d+ hours, )?(\d+ minutes, )?\d+ seconds$`)
	retainedOK = map[string]bool{"version": true, "sysdescr": true}
)

// TestGuideTopics: a local client subscribed to $SYS/# receives every topic of the guide's
// lists with the payload EMQX sends; version, sysdescr and $SYS/brokers are retained.
func TestGuideTopics(t *testing.T) {
	n, addr := startNode(t)
	startService(t, n, Options{Interval: 200 * time.Millisecond, Heartbeat: 100 * time.Millisecond})
	c, in := client(t, addr, nil, &paho.Connect{ClientID: "watcher", CleanStart: true})
	if rc := subscribe(t, c, "$SYS/#"); rc != 1 {
		t.Fatalf("SUBACK %#x, want 1 (a local client may subscribe to $SYS/#)", rc)
	}
	base := "$SYS/brokers/" + n.Name() + "/"
	want := map[string]bool{"$SYS/brokers": true}
	for _, tp := range guideTopics {
		want[base+tp] = true
	}
	seen := map[string]*paho.Publish{}
	deadline := time.After(5 * time.Second)
	for len(seen) < len(want) {
		select {
		case p := <-in.ch:
			if want[p.Topic] && seen[p.Topic] == nil {
				seen[p.Topic] = p
			}
		case <-deadline:
			for tp := range want {
				if seen[tp] == nil {
					t.Errorf("never received %s", tp)
				}
			}
			t.FailNow()
		}
	}
	// One more interval: the counts below must come from an interval that began after the
	// watcher's subscription (the first one it sees may have read the statistics before).
	more := time.After(300 * time.Millisecond)
	for done := false; !done; {
		select {
		case p := <-in.ch:
			if want[p.Topic] {
				seen[p.Topic] = p
			}
		case <-more:
			done = true
		}
	}
	for tp, p := range seen {
		payload := string(p.Payload)
		rest := strings.TrimPrefix(tp, base)
		switch {
		case tp == "$SYS/brokers":
			if payload != n.Name() {
				t.Errorf("$SYS/brokers = %q, want %q", payload, n.Name())
			}
		case rest == "version":
			if payload != engine.Version {
				t.Errorf("version = %q, want %q", payload, engine.Version)
			}
		case rest == "sysdescr":
			if payload != engine.SysDescr {
				t.Errorf("sysdescr = %q", payload)
			}
		case rest == "uptime":
			if !uptimeRE.MatchString(payload) {
				t.Errorf("uptime = %q, want EMQX's form (\"3 seconds\")", payload)
			}
		case rest == "datetime":
			if _, err := time.ParseInLocation(time.DateTime, payload, time.Local); err != nil {
				t.Errorf("datetime = %q: %v", payload, err)
			}
		default:
			if _, err := strconv.ParseUint(payload, 10, 64); err != nil {
				t.Errorf("%s = %q, want a decimal count", tp, payload)
			}
		}
	}
	if v := seen[base+"stats/connections/count"]; string(v.Payload) != "1" {
		t.Errorf("stats/connections/count = %q, want 1", v.Payload)
	}
	if v := seen[base+"stats/subscriptions/count"]; string(v.Payload) != "1" {
		t.Errorf("stats/subscriptions/count = %q, want 1 (the watcher's)", v.Payload)
	}

	// A later subscriber gets the retained ones at once, with RETAIN set, and only those.
	c2, in2 := client(t, addr, nil, &paho.Connect{ClientID: "late", CleanStart: true})
	subscribe(t, c2, "$SYS/#")
	got := map[string]bool{}
	for len(got) < 3 {
		p := in2.next(t, "retained $SYS message", func(string) bool { return true })
		if !p.Retain {
			continue // a fresh publication of the interval
		}
		rest := strings.TrimPrefix(p.Topic, base)
		if p.Topic != "$SYS/brokers" && !retainedOK[rest] {
			t.Fatalf("%s is retained; EMQX retains only $SYS/brokers, version and sysdescr", p.Topic)
		}
		got[p.Topic] = true
	}
}

// TestHeartbeatOnly: with broker.sys_interval 0 only uptime and datetime are published, at
// the heartbeat.
func TestHeartbeatOnly(t *testing.T) {
	n, addr := startNode(t)
	c, in := client(t, addr, nil, &paho.Connect{ClientID: "watcher", CleanStart: true})
	subscribe(t, c, "$SYS/#")
	startService(t, n, Options{Heartbeat: 50 * time.Millisecond})
	base := "$SYS/brokers/" + n.Name() + "/"
	for range 6 {
		p := in.next(t, "heartbeat", func(string) bool { return true })
		if p.Topic != base+"uptime" && p.Topic != base+"datetime" {
			t.Fatalf("got %s with sys_interval 0; want only uptime and datetime", p.Topic)
		}
	}
}

// TestPresence: connected and disconnected events with EMQX 4.x's JSON, session_epoch
// growing across a takeover, and EMQX's reasons.
func TestPresence(t *testing.T) {
	n, addr := startNode(t)
	startService(t, n, Options{Presence: true, PresenceQoS: 1})
	w, in := client(t, addr, nil, &paho.Connect{ClientID: "watcher", CleanStart: true})
	subscribe(t, w, "$SYS/brokers/+/clients/#")
	base := "$SYS/brokers/" + n.Name() + "/clients/dev1/"
	port := addr[strings.LastIndexByte(addr, ':')+1:]

	expiry := uint32(60)
	cp := func() *paho.Connect {
		return &paho.Connect{ClientID: "dev1", CleanStart: true, KeepAlive: 42, Username: "alice", UsernameFlag: true,
			Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}}
	}
	client(t, addr, nil, cp())
	p := in.next(t, "connected event", func(tp string) bool { return tp == base+"connected" })
	if p.QoS != 1 || p.Retain {
		t.Errorf("connected event QoS %d retain %v, want QoS 1 (module.presence.qos), not retained", p.QoS, p.Retain)
	}
	var con map[string]any
	if err := json.Unmarshal(p.Payload, &con); err != nil {
		t.Fatalf("connected payload %s: %v", p.Payload, err)
	}
	for k, v := range map[string]any{"clientid": "dev1", "username": "alice", "ipaddress": "127.0.0.1",
		"proto_name": "MQTT", "proto_ver": 5.0, "keepalive": 42.0, "clean_start": true, "connack": 0.0,
		"expiry_interval": 60.0, "sockport": mustFloat(t, port)} {
		if con[k] != v {
			t.Errorf("connected %s = %v, want %v (payload %s)", k, con[k], v, p.Payload)
		}
	}
	now := float64(time.Now().UnixMilli())
	for _, k := range []string{"connected_at", "ts"} {
		if v, _ := con[k].(float64); v < now-10000 || v > now+1000 {
			t.Errorf("connected %s = %v, want about %v (unix ms)", k, con[k], now)
		}
	}
	epoch1 := int64(con["session_epoch"].(float64))

	// Takeover by a second connection with the same client id.
	c2, _ := client(t, addr, nil, cp())
	var gone, con2 map[string]any
	for gone == nil || con2 == nil {
		p := in.next(t, "takeover events", func(tp string) bool { return strings.HasPrefix(tp, base) })
		m := map[string]any{}
		if err := json.Unmarshal(p.Payload, &m); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p.Topic, "/disconnected") {
			gone = m
		} else {
			con2 = m
		}
	}
	if gone["reason"] != "takeovered" || int64(gone["session_epoch"].(float64)) != epoch1 {
		t.Errorf("disconnected at takeover: %v; want reason takeovered, session_epoch %d", gone, epoch1)
	}
	epoch2 := int64(con2["session_epoch"].(float64))
	if epoch2 <= epoch1 {
		t.Errorf("session_epoch after takeover %d, want > %d", epoch2, epoch1)
	}

	// A normal DISCONNECT.
	if err := c2.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	p = in.next(t, "disconnected event", func(tp string) bool { return tp == base+"disconnected" })
	var dis map[string]any
	if err := json.Unmarshal(p.Payload, &dis); err != nil {
		t.Fatal(err)
	}
	if dis["reason"] != "normal" || dis["clientid"] != "dev1" || dis["username"] != "alice" ||
		int64(dis["session_epoch"].(float64)) != epoch2 || dis["disconnected_at"].(float64) < dis["connected_at"].(float64) {
		t.Errorf("disconnected payload %s", p.Payload)
	}
}

func mustFloat(t *testing.T, s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestMemoryAlarm: system memory above os_mon.sysmem_high_watermark raises
// high_system_memory_usage (published on alarms/alert, listed), and going below clears it
// (alarms/clear, moved to the history).
func TestMemoryAlarm(t *testing.T) {
	n, addr := startNode(t)
	meminfo := filepath.Join(t.TempDir(), "meminfo")
	writeMeminfo := func(total, avail int) {
		data := "MemTotal:       " + strconv.Itoa(total) + " kB\nMemFree:        1 kB\nMemAvailable:   " + strconv.Itoa(avail) + " kB\n"
		if err := os.WriteFile(meminfo+".tmp", []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(meminfo+".tmp", meminfo); err != nil {
			t.Fatal(err)
		}
	}
	writeMeminfo(1000000, 100000) // 90% used
	w, in := client(t, addr, nil, &paho.Connect{ClientID: "watcher", CleanStart: true})
	subscribe(t, w, "$SYS/brokers/+/alarms/#")
	s := startService(t, n, Options{MemCheckInterval: 20 * time.Millisecond, SysMemHighWatermark: 0.7, MemInfo: meminfo,
		AlarmPublish: true, AlarmSizeLimit: 10})
	base := "$SYS/brokers/" + n.Name() + "/alarms/"

	p := in.next(t, "alarm alert", func(tp string) bool { return tp == base+"alert" })
	var a AlarmPayload
	if err := json.Unmarshal(p.Payload, &a); err != nil {
		t.Fatal(err)
	}
	if a.Name != AlarmSysMemory || a.ID != AlarmSysMemory || a.Message != "System memory usage is higher than 70%" ||
		a.Details["high_watermark"] != 70.0 || a.Details["usage"] != 90.0 || a.ActivateAt == 0 || a.DeactivateAt != 0 ||
		a.Desc.Summary != a.Message || a.Desc.Timestamp == 0 {
		t.Fatalf("alert payload %s", p.Payload)
	}
	active, _ := s.Alarms()
	if len(active) != 1 || active[0].Name != AlarmSysMemory {
		t.Fatalf("active alarms %+v", active)
	}
	in.none(t, 100*time.Millisecond, base+"alert") // raised once, not at every check

	writeMeminfo(1000000, 500000) // 50% used
	p = in.next(t, "alarm clear", func(tp string) bool { return tp == base+"clear" })
	var c AlarmPayload
	if err := json.Unmarshal(p.Payload, &c); err != nil {
		t.Fatal(err)
	}
	if c.Name != AlarmSysMemory || c.DeactivateAt < c.ActivateAt || c.ActivateAt != a.ActivateAt {
		t.Fatalf("clear payload %s", p.Payload)
	}
	active, cleared := s.Alarms()
	if len(active) != 0 || len(cleared) != 1 || cleared[0].Name != AlarmSysMemory || cleared[0].ClearedAt.IsZero() {
		t.Fatalf("after clearing: active %+v, cleared %+v", active, cleared)
	}
}

// none requires that no message on topic arrives within d.
func (b *inbox) none(t *testing.T, d time.Duration, topic string) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case p := <-b.ch:
			if p.Topic == topic {
				t.Fatalf("unexpected %s: %s", p.Topic, p.Payload)
			}
		case <-deadline:
			return
		}
	}
}

// TestDefaultACL: with the shipped acl.conf a client that is neither local nor the
// dashboard user is refused $SYS/# and gets no $SYS message, while the dashboard user from
// the same address gets them. (127.0.0.2 is a loopback address that is not 127.0.0.1.)
func TestDefaultACL(t *testing.T) {
	n, addr := startNode(t)
	startService(t, n, Options{Interval: 100 * time.Millisecond})
	other := &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}
	denied, din := client(t, addr, other, &paho.Connect{ClientID: "stranger", CleanStart: true})
	if rc := subscribe(t, denied, "$SYS/#"); rc != 0x87 {
		t.Fatalf("SUBACK for a stranger %#x, want 0x87 (not authorized)", rc)
	}
	if rc := subscribe(t, denied, "#"); rc != 0x87 {
		t.Fatalf("SUBACK for a stranger's '#' %#x, want 0x87", rc)
	}
	dash, in := client(t, addr, other, &paho.Connect{ClientID: "dash", CleanStart: true, Username: "dashboard", UsernameFlag: true})
	if rc := subscribe(t, dash, "$SYS/#"); rc != 1 {
		t.Fatalf("SUBACK for the dashboard user %#x, want 1", rc)
	}
	in.next(t, "$SYS message for the dashboard user", func(tp string) bool { return strings.HasPrefix(tp, "$SYS/") })
	// Two more intervals: still nothing for the stranger.
	select {
	case p := <-din.ch:
		t.Fatalf("the stranger received %s", p.Topic)
	case <-time.After(250 * time.Millisecond):
	}
}
