package tlspsk

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

var suiteNames = []string{"PSK-AES128-GCM-SHA256", "PSK-AES256-GCM-SHA384", "PSK-AES128-CBC-SHA256", "PSK-AES256-CBC-SHA384", "PSK-AES128-CBC-SHA", "PSK-AES256-CBC-SHA"}

// runSClient runs openssl s_client against addr with the PSK identity and key (hex), sends
// one line and returns what it printed.
func runSClient(t *testing.T, addr, identity, keyHex, cipher string) (string, error) {
	t.Helper()
	openssl := needTool(t, "openssl")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr, "-tls1_2", "-cipher", cipher,
		"-psk", keyHex, "-psk_identity", identity, "-quiet")
	// -quiet implies -ign_eof: s_client keeps stdin open and exits when the server closes.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = stdin.Write([]byte("hello psk\n")) }()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// openssl s_client against our server, for every suite: the line comes back, and the suite
// that openssl asked for is the one in use.
func TestOpenSSLClient(t *testing.T) {
	addr, results := echoServer(t, &Config{GetKey: keys(map[string]string{"client1": "1234"}), Hint: "emqgo"})
	for _, name := range suiteNames {
		t.Run(name, func(t *testing.T) {
			out, err := runSClient(t, addr, "client1", "31323334", name)
			if herr := <-results; herr != nil {
				t.Fatalf("server handshake: %v\nopenssl: %s", herr, out)
			}
			if err != nil || !strings.Contains(out, "echo:hello psk suite:"+name) {
				t.Fatalf("openssl s_client: %v\n%s", err, out)
			}
		})
	}
}

// A wrong key and an unknown identity both end in a decrypt_error alert, which openssl
// reports; the server's error says which it was.
func TestOpenSSLClientRefused(t *testing.T) {
	addr, results := echoServer(t, &Config{GetKey: keys(map[string]string{"client1": "1234"})})
	f := func(identity, keyHex string, cause error) {
		t.Helper()
		out, err := runSClient(t, addr, identity, keyHex, "PSK-AES128-GCM-SHA256")
		herr := <-results
		var ae *AlertError
		if !errors.Is(herr, cause) || !errors.As(herr, &ae) || ae.Alert != AlertDecryptError {
			t.Fatalf("server error = %v, want %v with decrypt_error", herr, cause)
		}
		if err == nil || !strings.Contains(out, "decrypt error") || strings.Contains(out, "echo:") {
			t.Fatalf("openssl s_client did not report the alert: %v\n%s", err, out)
		}
	}
	f("client1", "31323335", ErrWrongKey)
	f("nobody", "31323334", ErrUnknownIdentity)
}

// startSServer runs openssl s_server with -rev (it answers each line reversed) and a PSK,
// no certificate, and returns its address once it accepts.
func startSServer(t *testing.T, cipher string, extra ...string) string {
	t.Helper()
	openssl := needTool(t, "openssl")
	port := freePort(t)
	args := append([]string{"s_server", "-accept", "127.0.0.1:" + port, "-nocert", "-tls1_2", "-cipher", cipher,
		"-psk", "31323334", "-rev", "-naccept", "1"}, extra...)
	cmd := exec.Command(openssl, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		closed := false
		for sc.Scan() {
			if strings.Contains(sc.Text(), "ACCEPT") && !closed {
				close(ready)
				closed = true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("openssl s_server did not start")
	}
	return "127.0.0.1:" + port
}

// dialPSK connects our client to addr and exchanges one line.
func dialPSK(t *testing.T, addr string, cfg *Config) (*Conn, string, error) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := Client(nc, cfg)
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Handshake(); err != nil {
		return c, "", err
	}
	if _, err := c.Write([]byte("hello psk\n")); err != nil {
		return c, "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return c, line, err
}

// Our client against openssl s_server -psk -nocert, for every suite, with an identity hint.
func TestOpenSSLServer(t *testing.T) {
	for _, name := range suiteNames {
		t.Run(name, func(t *testing.T) {
			addr := startSServer(t, name, "-psk_hint", "hint1")
			id, _, _ := CipherSuites([]string{name})
			c, line, err := dialPSK(t, addr, &Config{Identity: "client1", Key: []byte("1234"), CipherSuites: id})
			if err != nil || line != "ksp olleh\n" {
				t.Fatalf("line %q, err %v", line, err)
			}
			st := c.ConnectionState()
			if st.CipherSuite != id[0] || st.Hint != "hint1" || !st.ExtendedMasterSecret || !st.SecureRenegotiation {
				t.Fatalf("state %+v", st)
			}
		})
	}
}

// openssl s_server with another key refuses our client with an alert.
func TestOpenSSLServerWrongKey(t *testing.T) {
	addr := startSServer(t, "PSK-AES128-GCM-SHA256")
	_, _, err := dialPSK(t, addr, &Config{Identity: "client1", Key: []byte("9999")})
	var ae *AlertError
	if !errors.As(err, &ae) || ae.Sent {
		t.Fatalf("err = %v, want an alert from the server", err)
	}
}

// openssl s_client's R command asks to renegotiate: the server refuses with a
// no_renegotiation alert and ends the connection.
func TestOpenSSLRenegotiationRefused(t *testing.T) {
	openssl := needTool(t, "openssl")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	result := make(chan error, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			result <- err
			return
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		c := Server(nc, &Config{GetKey: keys(map[string]string{"client1": "1234"})})
		_, err = io.ReadAll(c)
		result <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", ln.Addr().String(), "-tls1_2", "-cipher", "PSK-AES128-GCM-SHA256",
		"-psk", "31323334", "-psk_identity", "client1")
	cmd.Stdin = strings.NewReader("R\n")
	out, _ := cmd.CombinedOutput()
	err = <-result
	var ae *AlertError
	if !errors.As(err, &ae) || ae.Alert != AlertNoRenegotiation {
		t.Fatalf("server: %v, want no_renegotiation\nopenssl: %s", err, out)
	}
	if !strings.Contains(string(out), "RENEGOTIATING") {
		t.Fatalf("openssl did not renegotiate:\n%s", out)
	}
}
