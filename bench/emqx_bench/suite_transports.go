package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// The suite's TLS and WebSocket rows. Every broker that serves the transport runs them on a
// listener of its own next to its TCP one: ours through EMQX_LISTENER__SSL__* /
// EMQX_LISTENER__WS__* with a certificate set from certgen (ECDSA P-256) written to the
// suite's temporary directory, Mosquitto through `listener` blocks with certfile/keyfile and
// `protocol websockets` in the configuration the suite writes. Peers without the transport
// (mochi, an external -peer) get "—".

// transportConns bounds the idle-connection runs over TLS and WebSocket: the tool holds three
// descriptors per such connection (the socket and a socket pair, transport.go), and a
// process may hold 20,000.
const transportConns = 3000

// transportCases are the TLS and WebSocket rows of the suite (suiteCases appends them).
func transportCases(d time.Duration, conns int) []suiteCase {
	thr := []string{"recv_rate", "broker_us", "p99", "loss"}
	n := min(conns, transportConns)
	idle := func(transport string) func(o *Options) {
		return func(o *Options) {
			o.Transport = transport
			o.Subs, o.Filter, o.ConnRate, o.ConnWorkers = n, "bench/conn/%i", 5000, 8
			o.Duration = min(d, 3*time.Second)
			if transport == "tls" {
				// Enough handshakes in flight that the CPUs, not round trips, bound the rate.
				o.ConnWorkers = 32
			}
		}
	}
	return []suiteCase{
		{Name: "tls-p2p-q0", Title: "TLS p2p 8→8, QoS 0, 64 B", Scenario: "p2p", Transport: "tls", Metrics: thr,
			apply: func(o *Options) { o.Transport, o.Pubs, o.Subs, o.QoS = "tls", 8, 8, 0 }},
		{Name: "tls-p2p-q1", Title: "TLS p2p 8→8, QoS 1, 64 B", Scenario: "p2p", Transport: "tls", Metrics: thr,
			apply: func(o *Options) { o.Transport, o.Pubs, o.Subs, o.QoS, o.SubQoS = "tls", 8, 8, 1, 1 }},
		{Name: "tls-psk-p2p-q0", Title: "TLS-PSK p2p 8→8, QoS 0, 64 B (" + benchPSKCipher + ")", Scenario: "p2p", Transport: "psk", Metrics: thr,
			apply: func(o *Options) {
				o.Transport, o.Pubs, o.Subs, o.QoS = "psk", 8, 8, 0
				o.PSKIdentity, o.PSKKey = benchPSKIdentity, benchPSKKey
			}},
		{Name: "ws-p2p-q0", Title: "WebSocket p2p 8→8, QoS 0, 64 B", Scenario: "p2p", Transport: "ws", Metrics: thr,
			apply: func(o *Options) { o.Transport, o.Pubs, o.Subs, o.QoS = "ws", 8, 8, 0 }},
		{Name: "tls-conn", Title: fmt.Sprintf("TLS: %d connections (full handshakes, ECDSA P-256, TLS 1.3), idle, one subscription each", n),
			Scenario: "conn", Transport: "tls", Metrics: []string{"conn_rate", "conn_cpu", "tool_conn_cpu", "rss_per_conn", "connack_p99"}, apply: idle("tls")},
		{Name: "tls-conn-rsa", Title: fmt.Sprintf("TLS: %d connections (full handshakes, RSA-2048, TLS 1.3), idle, one subscription each", n),
			Scenario: "conn", Transport: "tls", Metrics: []string{"conn_rate", "conn_cpu", "tool_conn_cpu", "rss_per_conn", "connack_p99"},
			apply: func(o *Options) { idle("tls")(o); o.Listener = "tls-rsa" }},
		{Name: "tls-conn-resume", Title: fmt.Sprintf("TLS: %d connections (session tickets: resumed TLS 1.3 handshakes with X25519, ECDSA P-256 certificate), idle, one subscription each", n),
			Scenario: "conn", Transport: "tls", Metrics: []string{"conn_rate", "conn_cpu", "tool_conn_cpu", "rss_per_conn", "connack_p99"},
			apply: func(o *Options) { idle("tls")(o); o.TLSResume = true }},
		{Name: "ws-conn", Title: fmt.Sprintf("WebSocket: %d idle connections, one subscription each", n),
			Scenario: "conn", Transport: "ws", Metrics: []string{"rss_per_conn", "conn_rate", "connack_p99"}, apply: idle("ws")},
	}
}

// servesTransport says whether the broker kind can run a case over transport.
func servesTransport(kind, transport string) bool {
	switch transport {
	case "", "tcp":
		return true
	case "tls", "psk", "ws":
		return kind == "ours" || kind == "mosquitto"
	}
	return false
}

// benchCerts is the certificate set the suite's brokers serve TLS with.
type benchCerts struct {
	CA, Cert, Key   string // PEM files
	RSACert, RSAKey string // a server certificate with an RSA-2048 key (the tls-rsa listeners)
	// PSKFile and MosquittoPSKFile hold the TLS-PSK identity and key of the psk rows, in
	// EMQX's format (raw secret) and Mosquitto's (hex).
	PSKFile, MosquittoPSKFile string
}

// writeBenchCerts writes a fresh certgen set (CA, server certificate for 127.0.0.1) to
// dir/certs.
func writeBenchCerts(dir string) (*benchCerts, error) {
	set, err := certgen.Generate()
	if err != nil {
		return nil, err
	}
	d := filepath.Join(dir, "certs")
	if err := os.MkdirAll(d, 0o700); err != nil {
		return nil, err
	}
	if err := set.WriteDir(d); err != nil {
		return nil, err
	}
	ro := certgen.ServerOptions()
	ro.RSA = true
	rsaPair, err := set.CA.Issue(ro)
	if err != nil {
		return nil, err
	}
	f := func(name string) string { return filepath.Join(d, name) }
	if err := rsaPair.Write(f("rsa-cert.pem"), f("rsa-key.pem")); err != nil {
		return nil, err
	}
	c := &benchCerts{CA: f(certgen.Files.CACert), Cert: f(certgen.Files.Cert), Key: f(certgen.Files.Key),
		RSACert: f("rsa-cert.pem"), RSAKey: f("rsa-key.pem")}
	return c, writeBenchPSK(d, c)
}

// listenerPorts are the loopback addresses of one broker's listeners by transport (and
// tls-rsa: TLS with the RSA certificate).
type listenerPorts map[string]string

// newListenerPorts picks a free loopback port for tcp, tls, tls-rsa, psk and ws.
func newListenerPorts() (listenerPorts, error) {
	p := listenerPorts{}
	for _, t := range []string{"tcp", "tls", "tls-rsa", "psk", "ws"} {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		p[t] = fmt.Sprintf("127.0.0.1:%d", port)
	}
	return p, nil
}

// oursTransportEnv is the environment that puts our broker's ssl and ws listeners on p, with
// the suite's certificates, and keeps its wss listener off the shared default port.
func oursTransportEnv(p listenerPorts, c *benchCerts) []string {
	env := []string{
		"EMQX_LISTENER__WS__EXTERNAL=" + p["ws"],
		"EMQX_LISTENER__WS__EXTERNAL__MAX_CONN_RATE=1000000",
	}
	if c == nil {
		// No certificates: the TLS listeners name files that do not exist and are skipped.
		return append(env, "EMQX_LISTENER__SSL__EXTERNAL="+p["tls"], "EMQX_LISTENER__WSS__EXTERNAL=127.0.0.1:0")
	}
	if c.PSKFile != "" && p["psk"] != "" {
		env = append(env, oursPSKEnv(p["psk"], c)...)
	}
	for _, l := range []struct{ key, addr, cert, keyFile string }{
		{"SSL__EXTERNAL", p["tls"], c.Cert, c.Key}, {"WSS__EXTERNAL", "127.0.0.1:0", c.Cert, c.Key}, {"SSL__RSA", p["tls-rsa"], c.RSACert, c.RSAKey},
	} {
		if l.addr == "" || l.cert == "" {
			continue
		}
		pre := "EMQX_LISTENER__" + l.key
		env = append(env, pre+"="+l.addr, pre+"__CERTFILE="+l.cert, pre+"__KEYFILE="+l.keyFile, pre+"__MAX_CONN_RATE=1000000",
			// EMQX 3.2's default stops at TLS 1.2; Mosquitto serves 1.3 by default: both
			// are measured with TLS 1.3, as the rows' titles say.
			pre+"__TLS_VERSIONS=tlsv1.3,tlsv1.2")
	}
	return env
}

// mosquittoTransportConf is the part of Mosquitto's configuration that adds its TLS and
// WebSocket listeners on p.
func mosquittoTransportConf(p listenerPorts, c *benchCerts) string {
	port := func(t string) string { return p[t][len("127.0.0.1:"):] }
	s := ""
	if c != nil {
		if os.Geteuid() == 0 {
			// Started as root, Mosquitto reads the key after dropping to its own user, who
			// cannot enter the suite's private temporary directory.
			s += "user root\n"
		}
		s += fmt.Sprintf("listener %s 127.0.0.1\ncertfile %s\nkeyfile %s\nmax_connections -1\n", port("tls"), c.Cert, c.Key)
		if c.MosquittoPSKFile != "" && p["psk"] != "" {
			s += mosquittoPSKConf(port("psk"), c)
		}
		if p["tls-rsa"] != "" && c.RSACert != "" {
			s += fmt.Sprintf("listener %s 127.0.0.1\ncertfile %s\nkeyfile %s\nmax_connections -1\n", port("tls-rsa"), c.RSACert, c.RSAKey)
		}
	}
	// libwebsockets ignores the listener's address: bind_interface keeps it on loopback.
	s += fmt.Sprintf("listener %s 127.0.0.1\nprotocol websockets\nbind_interface lo\nmax_connections -1\n", port("ws"))
	return s
}

// waitListening waits until addr accepts TCP connections (a TLS listener may start a moment
// after the TCP one).
func waitListening(ctx context.Context, addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("nothing accepts connections on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
