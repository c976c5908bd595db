package wire

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// TestCryptoBackendKey: listener.<ssl|wss>.<name>.crypto_backend reaches the listener's TLS
// options (unset: auto); a value other than auto, openssl and go is refused, naming the key.
func TestCryptoBackendKey(t *testing.T) {
	dir, _ := certDir(t)
	f := func(name string) string { return filepath.Join(dir, name) }
	base := "listener.tcp.external = 127.0.0.1:0\n"
	for _, kind := range []string{"ssl", "wss"} {
		base += "listener." + kind + ".external = 127.0.0.1:0\n" +
			"listener." + kind + ".external.keyfile = " + f(certgen.Files.Key) + "\n" +
			"listener." + kind + ".external.certfile = " + f(certgen.Files.Cert) + "\n"
	}
	backends := func(extra string) map[string]string {
		t.Helper()
		c, _, err := config.Parse("test.conf", []byte(base+extra), nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := FromConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, l := range cfg.Listeners {
			if l.TLS != nil {
				got[l.Kind] = l.TLS.Options.CryptoBackend
			}
		}
		return got
	}
	if got := backends(""); got["ssl"] != "auto" || got["wss"] != "auto" {
		t.Fatalf("defaults: %v", got)
	}
	if got := backends("listener.ssl.external.crypto_backend = go\nlistener.wss.external.crypto_backend = openssl\n"); got["ssl"] != "go" || got["wss"] != "openssl" {
		t.Fatalf("set: %v", got)
	}
	_, _, err := config.Parse("test.conf", []byte(base+"listener.ssl.external.crypto_backend = boringssl\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "listener.ssl.external.crypto_backend") {
		t.Fatalf("unknown value: %v", err)
	}
}
