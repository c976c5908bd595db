package bridge

import (
	"fmt"
	"net"

	"github.com/emqgo/emqgo/engine/transport/tlspsk"
)

// pskClient builds the TLS-PSK client configuration of one connection attempt: the key is
// looked up anew each time, so that a reloaded PSK table applies at the next reconnect.
func pskClient(p *PSK, addr string) (*tlspsk.Config, error) {
	if p.Key == nil {
		return nil, fmt.Errorf("psk_ciphers: no PSK table to look psk_identity %q up in (load emqx_psk_file)", p.Identity)
	}
	key, ok := p.Key(p.Identity)
	if !ok {
		return nil, fmt.Errorf("psk_ciphers: psk_identity %q has no key in the PSK table (emqx_psk_file's psk.file.path)", p.Identity)
	}
	c := &tlspsk.Config{Identity: p.Identity, Key: key, CipherSuites: p.Suites}
	if host, _, err := net.SplitHostPort(addr); err == nil && net.ParseIP(host) == nil {
		c.ServerName = host
	}
	return c, nil
}
