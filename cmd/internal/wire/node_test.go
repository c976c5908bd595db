package wire

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/config"
)

// startConf starts a node from emqx.conf text through FromConfig, so that a test goes through
// the configuration keys and the wiring, not engine fields set by hand. Listeners should bind
// 127.0.0.1:0. The node stops when the test ends.
func startConf(t *testing.T, conf string) *engine.Node {
	t.Helper()
	c, _, err := config.Parse("test.conf", []byte(conf), nil)
	if err != nil {
		t.Fatal(err)
	}
	ec, _, err := FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	ec.LoopCount = 2
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var n *engine.Node
	for attempt := 1; ; attempt++ {
		if n, err = engine.New(ec, log); err != nil {
			t.Fatal(err)
		}
		// Start probes a free port and binds it again in gnet: a client socket's ephemeral
		// port may take it in between, so retry that case.
		if err = n.Start(); err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("stopping the node: %v", err)
		}
	})
	return n
}

// connect sends a CONNECT of version v (mutate adjusts it) over a fresh TCP connection and
// returns the connection and the decoded CONNACK. The connection closes when the test ends.
func connect(t *testing.T, addr string, v codec.Version, id string, mutate func(*codec.Connect)) (net.Conn, *codec.Connack) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := &codec.Connect{Version: v, CleanStart: true, KeepAlive: 30, ClientID: []byte(id)}
	if mutate != nil {
		mutate(p)
	}
	if _, err := conn.Write(codec.AppendConnect(nil, p)); err != nil {
		t.Fatalf("%s: writing CONNECT: %v", id, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	pkt, err := readPacket(bufio.NewReader(conn))
	if err != nil {
		t.Fatalf("%s: reading CONNACK: %v", id, err)
	}
	if codec.PacketType(pkt[0]>>4) != codec.TypeConnack {
		t.Fatalf("%s: got % x, want a CONNACK", id, pkt)
	}
	var ack codec.Connack
	if err := ack.Decode(pkt, v); err != nil {
		t.Fatalf("%s: bad CONNACK % x: %v", id, pkt, err)
	}
	return conn, &ack
}

// readPacket reads one whole MQTT packet: the first byte, the variable-length remaining
// length, then that many bytes.
func readPacket(r *bufio.Reader) ([]byte, error) {
	pkt := make([]byte, 0, 16)
	b, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	pkt = append(pkt, b)
	length, shift := 0, 0
	for {
		if b, err = r.ReadByte(); err != nil {
			return nil, err
		}
		pkt = append(pkt, b)
		length |= int(b&0x7F) << shift
		if b&0x80 == 0 {
			break
		}
		if shift += 7; shift > 21 {
			return nil, io.ErrUnexpectedEOF
		}
	}
	head := len(pkt)
	pkt = append(pkt, make([]byte, length)...)
	if _, err := io.ReadFull(r, pkt[head:]); err != nil {
		return nil, err
	}
	return pkt, nil
}
