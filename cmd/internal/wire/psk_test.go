package wire

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/transport/certgen"
	"github.com/emqgo/emqgo/engine/transport/tlspsk"
)

// TestPSKListenerFromConf: psk_ciphers on an ssl listener with a certificate serves both;
// unimplemented suite names (EMQX's default list has 3DES and RC4) are ignored.
func TestPSKListenerFromConf(t *testing.T) {
	dir, _ := certDir(t)
	f := func(name string) string { return filepath.Join(dir, name) }
	n := startConf(t, `
listener.tcp.external = 127.0.0.1:0
listener.ssl.external = 127.0.0.1:0
listener.ssl.external.keyfile = `+f(certgen.Files.Key)+`
listener.ssl.external.certfile = `+f(certgen.Files.Cert)+`
listener.ssl.external.psk_ciphers = PSK-AES128-CBC-SHA,PSK-AES256-CBC-SHA,PSK-3DES-EDE-CBC-SHA,PSK-RC4-SHA
`)
	n.SetPSKLookup(func(id string) ([]byte, bool) { return []byte("1234"), id == "client1" })
	nc, err := net.DialTimeout("tcp", n.TLSAddr("external"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	c := tlspsk.Client(nc, &tlspsk.Config{Identity: "client1", Key: []byte("1234")})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if s := c.ConnectionState().CipherSuite; s != tlspsk.TLS_PSK_WITH_AES_128_CBC_SHA {
		t.Fatalf("suite %s, want the listener's first", tlspsk.CipherSuiteName(s))
	}
}

func TestPSKConfErrors(t *testing.T) {
	base := "listener.tcp.external = 127.0.0.1:0\nlistener.ssl.external = 127.0.0.1:0\n"
	for _, tc := range []struct{ conf, want string }{
		{base + "listener.ssl.external.psk_ciphers = PSK-AES128-CBC-SHA,ECDHE-RSA-AES128-GCM-SHA256\n",
			`listener.ssl.external.psk_ciphers: "ECDHE-RSA-AES128-GCM-SHA256" is not a TLS-PSK cipher suite`},
		{base + "listener.ssl.external.psk_ciphers = PSK-RC4-SHA\n", "listener.ssl.external.psk_ciphers: none of PSK-RC4-SHA is implemented"},
	} {
		c, _, err := config.Parse("test.conf", []byte(tc.conf), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := FromConfig(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}
