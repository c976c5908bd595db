package banned

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/acl"
)

func startNode(t *testing.T, flapping engine.FlappingPolicy) *engine.Node {
	t.Helper()
	z := engine.DefaultZone()
	z.EnableBan = true
	z.EnableFlappingDetect = flapping.Threshold > 0
	cfg := &engine.Config{
		Listeners:      []engine.Listener{{Kind: "tcp", Name: "external", Addr: "127.0.0.1:0", Zone: z, MaxConnections: 1000}},
		AllowAnonymous: true,
		ACL:            acl.Default(),
		SharedStrategy: "round_robin",
		LoopCount:      2,
		Flapping:       flapping,
	}
	n, err := engine.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Stop(ctx)
	})
	return n
}

func openStore(t *testing.T, n *engine.Node, path string) *Store {
	t.Helper()
	s, err := Open(n, path, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// connect5 connects an MQTT 5 client and returns the CONNACK reason code.
func connect5(t *testing.T, n *engine.Node, id, user string) byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", n.Addr("external"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cp := &paho.Connect{ClientID: id, KeepAlive: 30, CleanStart: true}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
	}
	ca, err := c.Connect(ctx, cp)
	if ca == nil {
		t.Fatalf("connect %s: no CONNACK: %v", id, err)
	}
	if ca.ReasonCode == 0 {
		_ = c.Disconnect(&paho.Disconnect{})
	}
	return ca.ReasonCode
}

// connect3 connects an MQTT 3.1.1 client and returns its refusal (nil when accepted).
func connect3(t *testing.T, n *engine.Node, id string) error {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + n.Addr("external")).SetClientID(id).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false))
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("%s: no CONNACK", id)
	}
	if tok.Error() == nil {
		c.Disconnect(0)
	}
	return tok.Error()
}

func run(t *testing.T, s *Store, args string, wantCode int) string {
	t.Helper()
	out, code := s.Command(strings.Fields(args))
	if code != wantCode {
		t.Fatalf("banned %s: code %d, want %d: %s", args, code, wantCode, out)
	}
	return out
}

// TestBanned: bans by client id, user name and address refuse with 0x8A (v5) / 5 (3.1.1);
// del lifts them; an expiring ban lapses; the table survives a restart.
func TestBanned(t *testing.T) {
	n := startNode(t, engine.FlappingPolicy{})
	path := filepath.Join(t.TempDir(), "banned.json")
	s := openStore(t, n, path)

	run(t, s, "add --type=client_id --value=bad --by=ops --reason=spam", 0)
	run(t, s, "add --type=username --value=mallory", 0)
	if got := connect5(t, n, "bad", ""); got != 0x8A {
		t.Errorf("banned client id (v5): reason %#x, want 0x8A", got)
	}
	if err := connect3(t, n, "bad"); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		t.Errorf("banned client id (3.1.1): %v, want return code 5", err)
	}
	if got := connect5(t, n, "m1", "mallory"); got != 0x8A {
		t.Errorf("banned user name: reason %#x, want 0x8A", got)
	}
	if got := connect5(t, n, "good", "alice"); got != 0 {
		t.Errorf("a client not banned: reason %#x", got)
	}
	if out := run(t, s, "list", 0); !strings.Contains(out, "type=client_id, value=bad, reason=spam, by=ops") || !strings.Contains(out, "type=username, value=mallory") {
		t.Errorf("list:\n%s", out)
	}
	run(t, s, "add --type=ip_address --value=::ffff:127.0.0.1", 0)
	if got := connect5(t, n, "good", ""); got != 0x8A {
		t.Errorf("banned address: reason %#x, want 0x8A", got)
	}
	run(t, s, "del --type=ip_address --value=127.0.0.1", 0)
	run(t, s, "del --type=ip_address --value=127.0.0.1", 1)
	run(t, s, "add --type=client_id --value=brief --until=1s", 0)
	if got := connect5(t, n, "brief", ""); got != 0x8A {
		t.Errorf("ban with until: reason %#x, want 0x8A", got)
	}
	run(t, s, "add --type=peer --value=x", 1)
	run(t, s, "add --type=ip_address --value=not-an-ip", 1)
	run(t, s, "add --type=client_id --value=x --when=now", 1)

	time.Sleep(1100 * time.Millisecond)
	if got := connect5(t, n, "brief", ""); got != 0 {
		t.Errorf("expired ban still refuses: %#x", got)
	}

	// A new node on the same file: the bans in force are back.
	s.Close()
	n2 := startNode(t, engine.FlappingPolicy{})
	openStore(t, n2, path)
	if got := connect5(t, n2, "bad", ""); got != 0x8A {
		t.Errorf("after restart: reason %#x, want 0x8A", got)
	}
	if got := connect5(t, n2, "m2", "mallory"); got != 0x8A {
		t.Errorf("after restart, user name: reason %#x, want 0x8A", got)
	}
	if got := len(n2.Bans()); got != 2 {
		t.Errorf("after restart %d bans, want 2: %+v", got, n2.Bans())
	}
}

// TestFlapping: the connect past the threshold within the window is refused and bans the
// client id for the ban time (durably); other clients are unaffected.
func TestFlapping(t *testing.T) {
	n := startNode(t, engine.FlappingPolicy{Threshold: 3, Window: time.Minute, Ban: 5 * time.Minute})
	path := filepath.Join(t.TempDir(), "banned.json")
	openStore(t, n, path)
	for i := 0; i < 3; i++ {
		if got := connect5(t, n, "flappy", ""); got != 0 {
			t.Fatalf("connect %d within the threshold: reason %#x", i+1, got)
		}
	}
	if got := connect5(t, n, "flappy", ""); got != 0x8A {
		t.Errorf("connect past the threshold: reason %#x, want 0x8A", got)
	}
	if err := connect3(t, n, "flappy"); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		t.Errorf("banned flapping client (3.1.1): %v", err)
	}
	if got := connect5(t, n, "calm", ""); got != 0 {
		t.Errorf("another client: reason %#x", got)
	}
	if got := n.FlappingBans(); got != 1 {
		t.Errorf("flapping bans %d, want 1", got)
	}
	bans := n.Bans()
	if len(bans) != 1 || bans[0].By != "flapping_detect" || bans[0].Until.Sub(bans[0].At) != 5*time.Minute {
		t.Fatalf("bans %+v", bans)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), `"value": "flappy"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the flapping ban was not written to %s: %s", path, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
