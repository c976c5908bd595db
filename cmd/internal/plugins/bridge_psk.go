package plugins

import (
	"strings"

	"github.com/emqgo/emqgo/engine/service/bridge"
	"github.com/emqgo/emqgo/engine/transport/tlspsk"
)

// bridgePSK reads the TLS-PSK side of a bridge with ssl = on: nil without psk_ciphers.
//
// EMQX 3.2 gives a bridge's psk_ciphers the user_lookup_fun emqx_psk:lookup, so its key comes
// from the emqx_psk_file table; it has no key for the identity the client sends. emqgo adds
// bridge.mqtt.<name>.psk_identity (required with psk_ciphers) and looks that identity up in
// the node's PSK table (emqx_psk_file) at every connection attempt.
func bridgePSK(c *Conf, p string, get func(string) string, e *Env) *bridge.PSK {
	names := strings.TrimSpace(get("psk_ciphers"))
	if names == "" {
		return nil
	}
	ids, ignored, err := tlspsk.CipherSuites(strings.Split(names, ","))
	if err != nil {
		c.Fail(p+"psk_ciphers", err.Error())
		return nil
	}
	if len(ids) == 0 {
		c.Fail(p+"psk_ciphers", "none of "+strings.Join(ignored, ",")+" is implemented (see the README for the TLS-PSK suites)")
		return nil
	}
	id := get("psk_identity")
	if id == "" {
		c.Fail(p+"psk_identity", "required with psk_ciphers: the identity whose key (in emqx_psk_file's table) the bridge presents")
		return nil
	}
	psk := &bridge.PSK{Identity: id, Suites: ids}
	if e.Node != nil {
		psk.Key = e.Node.PSKKey
	}
	return psk
}
