package tlspsk

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// pair connects our client and server over loopback TCP and runs both handshakes.
func pair(t *testing.T, scfg, ccfg *Config) (server, client *Conn, serr, cerr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			serr = err
			return
		}
		_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
		server = Server(nc, scfg)
		serr = server.Handshake()
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	client = Client(nc, ccfg)
	cerr = client.Handshake()
	<-done
	t.Cleanup(func() {
		_ = client.Close()
		if server != nil {
			_ = server.Close()
		}
	})
	return server, client, serr, cerr
}

// Our client and server, every suite: 1 MiB each way at the same time (records of 16 KiB and
// a tail), then close_notify reads as io.EOF.
func TestClientServerEverySuite(t *testing.T) {
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			scfg := &Config{GetKey: keys(map[string]string{"id": "secret key"}), Hint: "h"}
			server, client, serr, cerr := pair(t, scfg, &Config{Identity: "id", Key: []byte("secret key"), CipherSuites: []uint16{s.id}})
			if serr != nil || cerr != nil {
				t.Fatalf("handshakes: server %v, client %v", serr, cerr)
			}
			ss, cs := server.ConnectionState(), client.ConnectionState()
			if ss.CipherSuite != s.id || cs.CipherSuite != s.id || ss.Identity != "id" || cs.Hint != "h" || !ss.ExtendedMasterSecret || !cs.ExtendedMasterSecret {
				t.Fatalf("states: server %+v client %+v", ss, cs)
			}
			up, down := make([]byte, 1<<20+123), make([]byte, 1<<20+45)
			_, _ = rand.Read(up)
			_, _ = rand.Read(down)
			var wg sync.WaitGroup
			var gotUp, gotDown []byte
			var e1, e2 error
			wg.Add(4)
			go func() { defer wg.Done(); _, e1 = client.Write(up) }()
			go func() { defer wg.Done(); _, e2 = server.Write(down) }()
			go func() { defer wg.Done(); gotUp, _ = readN(server, len(up)) }()
			go func() { defer wg.Done(); gotDown, _ = readN(client, len(down)) }()
			wg.Wait()
			if e1 != nil || e2 != nil || !bytes.Equal(gotUp, up) || !bytes.Equal(gotDown, down) {
				t.Fatalf("transfer: %v %v, up equal %v, down equal %v", e1, e2, bytes.Equal(gotUp, up), bytes.Equal(gotDown, down))
			}
			_ = client.Close()
			if n, err := server.Read(make([]byte, 10)); n != 0 || err != io.EOF {
				t.Fatalf("after close_notify: %d %v", n, err)
			}
		})
	}
}

func readN(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// No suite in common: handshake_failure, on both sides.
func TestNoCommonSuite(t *testing.T) {
	_, _, serr, cerr := pair(t, &Config{GetKey: keys(map[string]string{"id": "k"}), CipherSuites: []uint16{TLS_PSK_WITH_AES_128_GCM_SHA256}},
		&Config{Identity: "id", Key: []byte("k"), CipherSuites: []uint16{TLS_PSK_WITH_AES_128_CBC_SHA}})
	var se, ce *AlertError
	if !errors.As(serr, &se) || !se.Sent || se.Alert != AlertHandshakeFailure || !errors.As(cerr, &ce) || ce.Sent || ce.Alert != AlertHandshakeFailure {
		t.Fatalf("server %v, client %v", serr, cerr)
	}
}

// A wrong key and an unknown identity look the same to the client (decrypt_error); the
// server's error tells them apart.
func TestWrongKeyUnknownIdentity(t *testing.T) {
	scfg := &Config{GetKey: keys(map[string]string{"id": "right"})}
	f := func(identity, key string, cause error) {
		t.Helper()
		_, _, serr, cerr := pair(t, scfg, &Config{Identity: identity, Key: []byte(key)})
		var ce *AlertError
		if !errors.Is(serr, cause) || !errors.As(cerr, &ce) || ce.Sent || ce.Alert != AlertDecryptError {
			t.Fatalf("server %v, client %v", serr, cerr)
		}
	}
	f("id", "wrong", ErrWrongKey)
	f("other", "right", ErrUnknownIdentity)
}

// A server refuses TLS 1.1 and older clients; a record claiming more than 2^14+2048 bytes
// is a record_overflow.
func TestServerRefusesOldVersionAndHugeRecord(t *testing.T) {
	f := func(first []byte, want Alert) {
		t.Helper()
		a, b := net.Pipe()
		defer a.Close()
		go func() { _, _ = b.Write(first); _, _ = io.Copy(io.Discard, b) }()
		err := Server(a, &Config{GetKey: keys(nil)}).Handshake()
		var ae *AlertError
		if !errors.As(err, &ae) || ae.Alert != want {
			t.Fatalf("err = %v, want %v", err, want)
		}
		b.Close()
	}
	hello := clientHelloBytes(t)
	old := bytes.Clone(hello)
	old[recordHeaderLen+4], old[recordHeaderLen+5] = 3, 2 // client_version TLS 1.1
	f(old, AlertProtocolVersion)
	f([]byte{22, 3, 3, 0x40, 0x01}, AlertRecordOverflow)
	f([]byte{22, 2, 0, 0, 1, 0}, AlertProtocolVersion)
}

// clientHelloBytes returns the first record our client sends.
func clientHelloBytes(t testing.TB) []byte {
	a, b := net.Pipe()
	go func() {
		_ = Client(a, &Config{Identity: "client1", Key: []byte("1234")}).Handshake()
	}()
	buf := make([]byte, 1024)
	n, err := b.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	return buf[:n]
}

// PeekClientHello finds the suites; Replay gives the bytes back in order.
func TestPeekAndReplay(t *testing.T) {
	hello := clientHelloBytes(t)
	a, b := net.Pipe()
	go func() { _, _ = b.Write(append(bytes.Clone(hello), "rest"...)); b.Close() }()
	read, suites, err := PeekClientHello(a)
	if err != nil || !bytes.Equal(read, hello) || !OffersAny(suites, []uint16{TLS_PSK_WITH_AES_128_CBC_SHA}) || OffersAny(suites, []uint16{0xC02F}) {
		t.Fatalf("peek: %v %x %x", err, read, suites)
	}
	all, _ := io.ReadAll(Replay(read, a))
	if !bytes.Equal(all, append(bytes.Clone(hello), "rest"...)) {
		t.Fatalf("replay: %q", all)
	}
	a, b = net.Pipe()
	go func() { _, _ = b.Write([]byte("GET / HTTP/1.1\r\n")); b.Close() }()
	read, suites, err = PeekClientHello(a)
	if err != nil || string(read) != "GET /" || suites != nil {
		t.Fatalf("not TLS: %v %q %x", err, read, suites)
	}
}
