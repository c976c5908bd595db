package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/emqgo/emqgo/engine/transport/tlspsk"
)

// TLS-PSK: the "psk" transport dials with engine/transport/tlspsk's client (PSK-AES128-GCM-SHA256
// only, so that every broker negotiates the same suite) and carries the bytes through a
// socket pair like tls (transport.go). The suite's tls-psk row runs it against our PSK-only
// ssl listener (psk_ciphers, keys from emqx_psk_file) and Mosquitto's psk_file listener.

// The identity and key (hex, as openssl and mosquitto take it) of the suite's PSK rows.
const (
	benchPSKIdentity = "bench"
	benchPSKKey      = "31323334" // "1234"
	benchPSKCipher   = "PSK-AES128-GCM-SHA256"
)

// pskClientConfig builds the client configuration of a psk run.
func pskClientConfig(o *Options) (*tlspsk.Config, error) {
	key, err := hex.DecodeString(o.PSKKey)
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("-psk: %q is not a key in hex", o.PSKKey)
	}
	if o.PSKIdentity == "" {
		return nil, fmt.Errorf("-psk-identity: needed with -transport psk")
	}
	return &tlspsk.Config{Identity: o.PSKIdentity, Key: key, CipherSuites: []uint16{tlspsk.TLS_PSK_WITH_AES_128_GCM_SHA256}}, nil
}

// dialPSK opens a TLS-PSK connection to addr.
func dialPSK(ctx context.Context, d *net.Dialer, cfg *tlspsk.Config, addr string) (net.Conn, error) {
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	_ = nc.SetDeadline(time.Now().Add(timeout))
	c := tlspsk.Client(nc, cfg)
	if err := c.Handshake(); err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

// writeBenchPSK writes the PSK files of both brokers to dir: ours (identity:secret as raw
// text, EMQX's format) and Mosquitto's (identity:key in hex).
func writeBenchPSK(dir string, c *benchCerts) error {
	key, _ := hex.DecodeString(benchPSKKey)
	c.PSKFile = filepath.Join(dir, "psk.txt")
	c.MosquittoPSKFile = filepath.Join(dir, "mosquitto.psk")
	if err := os.WriteFile(c.PSKFile, []byte(benchPSKIdentity+":"+string(key)+"\n"), 0o600); err != nil {
		return err
	}
	return os.WriteFile(c.MosquittoPSKFile, []byte(benchPSKIdentity+":"+benchPSKKey+"\n"), 0o600)
}

// oursPSKEnv adds our PSK-only listener "psk" on addr and loads emqx_psk_file with the
// suite's file.
func oursPSKEnv(addr string, c *benchCerts) []string {
	return []string{
		"EMQX_LISTENER__SSL__PSK=" + addr,
		"EMQX_LISTENER__SSL__PSK__PSK_CIPHERS=" + benchPSKCipher,
		"EMQX_LISTENER__SSL__PSK__MAX_CONN_RATE=1000000",
		"EMQX_LOADED_PLUGINS=emqx_psk_file",
		"EMQX_PSK__FILE__PATH=" + c.PSKFile,
	}
}

// mosquittoPSKConf is Mosquitto's PSK listener on port.
func mosquittoPSKConf(port string, c *benchCerts) string {
	return fmt.Sprintf("listener %s 127.0.0.1\npsk_hint bench\npsk_file %s\nciphers %s\nmax_connections -1\n", port, c.MosquittoPSKFile, benchPSKCipher)
}
