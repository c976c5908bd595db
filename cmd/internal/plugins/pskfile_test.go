package plugins

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/cmd/internal/wire"
	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/transport/tlspsk"
)

// startPSKNode starts a node with a PSK-only ssl listener "psk" and a tcp one.
func startPSKNode(t *testing.T) *engine.Node {
	t.Helper()
	c, _, err := config.Parse("test.conf", []byte("listener.tcp.external = 127.0.0.1:0\nlistener.ssl.psk = 127.0.0.1:0\n"+
		"listener.ssl.psk.psk_ciphers = PSK-AES128-CBC-SHA,PSK-AES256-CBC-SHA,PSK-3DES-EDE-CBC-SHA,PSK-RC4-SHA\nallow_anonymous = true\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ec, _, err := wire.FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	ec.LoopCount = 1
	n, err := engine.New(ec, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Stop(ctx)
	})
	return n
}

// pskConnect makes a TLS-PSK handshake and an MQTT connect; nil when both succeed.
func pskConnect(t *testing.T, addr, identity, key string) error {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := tlspsk.Client(nc, &tlspsk.Config{Identity: identity, Key: []byte(key)})
	defer c.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.Handshake(); err != nil {
		return err
	}
	if _, err := c.Write(codec.AppendConnect(nil, &codec.Connect{Version: codec.V311, ClientID: []byte("psk-" + identity), CleanStart: true, KeepAlive: 30})); err != nil {
		return err
	}
	buf := make([]byte, 64)
	k, err := c.Read(buf)
	if err != nil {
		return err
	}
	var ca codec.Connack
	if err := ca.Decode(buf[:k], codec.V311); err != nil || ca.Code != 0 {
		return errors.New("no CONNACK 0")
	}
	return nil
}

// TestPSKFilePlugin: emqx_psk_file gives the listener its keys from etc/psk.txt (the default
// path, relative to the home); unloaded, every PSK client is refused; reload reads the file
// and the delimiter again.
func TestPSKFilePlugin(t *testing.T) {
	n := startPSKNode(t)
	addr := n.Addr("ssl:psk")
	e := testEnv(t)
	if err := os.MkdirAll(filepath.Join(e.Home, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(text string) {
		if err := os.WriteFile(filepath.Join(e.Home, "etc", "psk.txt"), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("client1:1234\nclient2:abcd\n")
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	if err := pskConnect(t, addr, "client1", "1234"); err == nil {
		t.Fatal("connected before emqx_psk_file was loaded")
	}
	if err := m.Start("emqx_psk_file"); err != nil {
		t.Fatal(err)
	}
	if err := pskConnect(t, addr, "client1", "1234"); err != nil {
		t.Fatalf("client1: %v", err)
	}
	if err := pskConnect(t, addr, "client2", "abcd"); err != nil {
		t.Fatalf("client2: %v", err)
	}
	if err := pskConnect(t, addr, "client2", "1234"); err == nil {
		t.Fatal("client2 with client1's key connected")
	}
	writePluginConf(t, e, "emqx_psk_file", "psk.file.delimiter = |\n")
	write("client3|xyz\n")
	if err := m.Reload("emqx_psk_file"); err != nil {
		t.Fatal(err)
	}
	if err := pskConnect(t, addr, "client3", "xyz"); err != nil {
		t.Fatalf("client3 after reload: %v", err)
	}
	if err := pskConnect(t, addr, "client1", "1234"); err == nil {
		t.Fatal("client1 connected after it left the file")
	}
	write("broken line\n")
	if err := m.Reload("emqx_psk_file"); err == nil || !strings.Contains(err.Error(), "psk.txt:1") {
		t.Fatalf("reload of a bad file: %v", err)
	}
	if err := pskConnect(t, addr, "client3", "xyz"); err != nil {
		t.Fatalf("the previous keys stay after a failed reload: %v", err)
	}
	if err := m.Unload("emqx_psk_file"); err != nil {
		t.Fatal(err)
	}
	if err := pskConnect(t, addr, "client3", "xyz"); err == nil {
		t.Fatal("connected after unload")
	}
}

// EMQX_PSK__FILE__PATH is the plugin's: emqx.conf's loader leaves it alone and the plugin
// takes it.
func TestPSKFileEnvironment(t *testing.T) {
	e := testEnv(t)
	path := filepath.Join(e.Home, "keys.txt")
	if err := os.WriteFile(path, []byte("client9:99\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := []string{"EMQX_PSK__FILE__PATH=" + path}
	if _, _, err := config.Parse("test.conf", []byte("listener.tcp.external = 127.0.0.1:0\n"), environ); err != nil {
		t.Fatalf("emqx.conf loader: %v", err)
	}
	e.Environ, e.Log = environ, quietLog()
	inst, err := startPSKFile(&e)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := inst.PSK("client9"); !ok || string(k) != "99" {
		t.Fatalf("client9: %q %v", k, ok)
	}
}
