package bridge

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/emqgo/emqgo/codec"
)

func TestRPCAddress(t *testing.T) {
	f := func(name string, want string, wantOK bool) {
		t.Helper()
		got, ok := RPCAddress(name, 5369)
		if got != want || ok != wantOK {
			t.Errorf("RPCAddress(%q) = %q %v, want %q %v", name, got, ok, want, wantOK)
		}
	}
	f("emqx2@192.168.1.2", "192.168.1.2:5369", true)
	f("emqx2@host.example:6000", "host.example:6000", true)
	f("emqx2@[::1]:6000", "[::1]:6000", true)
	f("emqx2@::1", "[::1]:5369", true)
	f("emqx2@", "", false)
	f("@host", "", false)
	f("127.0.0.1:1883", "", false)
}

// decodeRPCBody splits a batch body into its PUBLISH packets, as the remote does.
func decodeRPCBody(t *testing.T, b []byte) []codec.Publish {
	t.Helper()
	var out []codec.Publish
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			t.Fatalf("bad record length at %d bytes from the end", len(b))
		}
		var p codec.Publish
		if err := p.Decode(b[k:k+int(n)], codec.V5); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
		b = b[k+int(n):]
	}
	return out
}

// TestRPCRecordFraming: records of every length-field size decode back, with the mountpoint
// and the remaining expiry.
func TestRPCRecordFraming(t *testing.T) {
	now := time.Now()
	var body []byte
	sizes := []int{0, 100, 200, 20000, 3 << 20}
	for i, size := range sizes {
		p := codec.Publish{Topic: []byte("t/" + strconv.Itoa(i)), Payload: make([]byte, size), QoS: byte(i % 3)}
		expiry := int64(0)
		if i == 1 {
			expiry = now.Add(90 * time.Second).UnixNano()
		}
		body = appendRPCRecord(body, &p, expiry, "mp/", now)
	}
	got := decodeRPCBody(t, body)
	if len(got) != len(sizes) {
		t.Fatalf("%d records, want %d", len(got), len(sizes))
	}
	for i, p := range got {
		if string(p.Topic) != "mp/t/"+strconv.Itoa(i) || len(p.Payload) != sizes[i] || p.QoS != byte(i%3) {
			t.Errorf("record %d: %s %d bytes qos %d", i, p.Topic, len(p.Payload), p.QoS)
		}
		if e, ok := p.Props.MessageExpiry, p.Props.Has(codec.PropMessageExpiry); (i == 1) != ok || i == 1 && e != 90 {
			t.Errorf("record %d: expiry %d %v", i, e, ok)
		}
	}
}

// fakeRPCRemote is a NATS server that answers RPC batches like a remote node's listener,
// except that it leaves the first batch unanswered; it records the payloads in arrival order.
type fakeRPCRemote struct {
	srv *server.Server
	nc  *nats.Conn

	mu      sync.Mutex
	got     []string
	batches int
}

func startFakeRPCRemote(t *testing.T, cookie string) *fakeRPCRemote {
	t.Helper()
	f := &fakeRPCRemote{}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: freePort(t), NoSigs: true, NoSystemAccount: true,
		Users: []*server.User{{Username: rpcUser, Password: cookie}}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("fake remote did not start")
	}
	f.srv = srv
	t.Cleanup(srv.Shutdown)
	f.nc, err = nats.Connect(srv.ClientURL(), nats.UserInfo(rpcUser, cookie))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.nc.Close)
	if _, err := f.nc.Subscribe(rpcSubject, func(m *nats.Msg) {
		ps := decodeRPCBody(t, m.Data)
		f.mu.Lock()
		f.batches++
		first := f.batches == 1
		for _, p := range ps {
			f.got = append(f.got, string(p.Topic)+" "+string(p.Payload))
		}
		f.mu.Unlock()
		if m.Header.Get(rpcFromHeader) != "emqx1@127.0.0.1" {
			t.Errorf("batch from %q", m.Header.Get(rpcFromHeader))
		}
		if !first {
			m.Respond(nil)
		}
	}); err != nil {
		t.Fatal(err)
	}
	f.nc.Flush()
	return f
}

func (f *fakeRPCRemote) received() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// TestRPCBridgeResendsUnanswered: a batch whose reply does not come within the timeout drops
// the link; after reconnecting, everything unanswered goes again, in order, and every message
// leaves the queue once answered. A wrong cookie never connects.
func TestRPCBridgeResendsUnanswered(t *testing.T) {
	remote := startFakeRPCRemote(t, "cookie")
	n, addr, _ := startNode(t, "emqx1@127.0.0.1")
	cfg := Config{Name: "rpc", Address: remote.srv.Addr().String(), Version: codec.V311, Forwards: []string{"s/#"},
		Mountpoint: "m/", ReconnectInterval: 100 * time.Millisecond, MaxInflightBatches: 2, BatchCount: 4,
		RPC: &RPC{Node: "emqx2@127.0.0.1", Cookie: "cookie", From: "emqx1@127.0.0.1", Timeout: 300 * time.Millisecond}}
	bad := cfg
	bad.Name, bad.AutoStart = "bad", false
	badRPC := *cfg.RPC
	badRPC.Cookie = "wrong"
	bad.RPC = &badRPC
	if err := openSet(t, n, bad, "").Bridge("bad").Start(t.Context()); err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		t.Fatalf("start with a wrong cookie: %v", err)
	}

	set := openSet(t, n, cfg, "")
	b := set.Bridge("rpc")
	pub := connectClient(t, addr, "pub")
	const count = 20
	for i := range count {
		pub.publish(t, "s/x", 1, false, fmt.Sprintf("%03d", i))
	}
	waitFor(t, "the messages queued", func() bool { return b.Metrics().Queued == count })
	if err := set.Start(t.Context(), "rpc"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every message answered", func() bool { m := b.Metrics(); return m.Queued == 0 && m.Sent >= count })
	if m := b.Metrics(); m.Reconnects < 1 || m.Status != "connected" {
		t.Fatalf("metrics %+v: the unanswered batch did not drop the link", m)
	}
	if got := remote.received(); len(got) <= count {
		t.Fatalf("the unanswered batch was not sent again: %v", got)
	}
	next := 0
	for _, m := range remote.received() {
		topic, payload, _ := strings.Cut(m, " ")
		i, _ := strconv.Atoi(payload)
		switch {
		case topic != "m/s/x":
			t.Fatalf("topic %q", topic)
		case i < next: // a resend
		case i == next:
			next++
		default:
			t.Fatalf("message %d arrived while %d was expected:\n%v", i, next, remote.received())
		}
	}
	if next != count {
		t.Fatalf("%d of %d in order: %v", next, count, remote.received())
	}
}
