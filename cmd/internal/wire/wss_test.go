package wire

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// The listener.wss.* keys reach a WebSocket-over-TLS listener: the TLS keys (certificate,
// verify_peer with fail_if_no_peer_cert, tls_versions, peer_cert_as_clientid) and the
// WebSocket keys (mqtt_path, verify_protocol_header) both apply.
func TestWSSListenerFromConf(t *testing.T) {
	dir, set := certDir(t)
	f := func(name string) string { return filepath.Join(dir, name) }
	n := startConf(t, `
listener.tcp.external = 127.0.0.1:0
listener.wss.external = 127.0.0.1:0
listener.wss.external.mqtt_path = /broker
listener.wss.external.verify_protocol_header = on
listener.wss.external.keyfile = `+f(certgen.Files.Key)+`
listener.wss.external.certfile = `+f(certgen.Files.Cert)+`
listener.wss.external.cacertfile = `+f(certgen.Files.CACert)+`
listener.wss.external.verify = verify_peer
listener.wss.external.fail_if_no_peer_cert = true
listener.wss.external.tls_versions = tlsv1.2
listener.wss.external.peer_cert_as_clientid = cn
`)
	addr := n.Addr("wss:external")
	if addr == "" {
		t.Fatal("no wss:external listener")
	}
	pool := x509.NewCertPool()
	pool.AddCert(set.CA.Cert)
	cert := tls.Certificate{Certificate: [][]byte{set.Client.Cert.Raw}, PrivateKey: set.Client.Key}
	withCert := &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{cert}}
	dial := func(tc *tls.Config, path string, protos ...string) (*websocket.Conn, int, error) {
		t.Helper()
		d := websocket.Dialer{Subprotocols: protos, HandshakeTimeout: 5 * time.Second, TLSClientConfig: tc}
		c, resp, err := d.Dial("wss://"+addr+path, nil)
		if c != nil {
			t.Cleanup(func() { c.Close() })
		}
		if resp == nil {
			return nil, 0, err
		}
		return c, resp.StatusCode, err
	}
	if _, st, err := dial(withCert, "/mqtt", "mqtt"); st != http.StatusNotFound {
		t.Errorf("/mqtt with mqtt_path = /broker: status %d (%v), want 404", st, err)
	}
	if _, st, err := dial(withCert, "/broker", "wechat"); st != http.StatusBadRequest {
		t.Errorf("unknown subprotocol with verify_protocol_header on: status %d (%v), want 400", st, err)
	}
	if _, _, err := dial(&tls.Config{RootCAs: pool, ServerName: "localhost"}, "/broker", "mqtt"); err == nil {
		t.Error("no client certificate with fail_if_no_peer_cert: upgraded")
	}
	c, st, err := dial(withCert, "/broker", "mqtt")
	if st != http.StatusSwitchingProtocols {
		t.Fatalf("status %d: %v", st, err)
	}
	if v := c.NetConn().(*tls.Conn).ConnectionState().Version; v != tls.VersionTLS12 {
		t.Fatalf("TLS version %#x, want 1.2 (tls_versions)", v)
	}
	// An empty client id: the certificate's CN is used instead of an assigned one.
	if err := c.WriteMessage(websocket.BinaryMessage, codec.AppendConnect(nil, &codec.Connect{Version: codec.V5, CleanStart: true, KeepAlive: 30})); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, msg, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var ca codec.Connack
	if err := ca.Decode(msg, codec.V5); err != nil || ca.Code != 0 {
		t.Fatalf("connack %v %+v", err, ca)
	}
	if ca.Props.Has(codec.PropAssignedClientID) {
		t.Fatalf("assigned a client id %q although the certificate names one", ca.Props.AssignedClientID)
	}
}
