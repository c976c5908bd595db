package plugins

import (
	"github.com/emqgo/emqgo/engine/service/pskfile"
)

// startPSKFile starts emqx_psk_file: the TLS-PSK keys of the listeners with psk_ciphers,
// read once from psk.file.path (`emqx_ctl plugins reload emqx_psk_file` reads it again).
// Lookups run on the handshake goroutines of TLS connections, never on an event loop.
func startPSKFile(e *Env) (*Instance, error) {
	const p = "psk.file."
	c := LoadConf(pskfile.Name, p, []Key{
		{Pattern: p + "path", Default: "etc/psk.txt"},
		{Pattern: p + "delimiter", Default: ":"},
	}, e.EtcDir, e.Home, e.Environ)
	if err := c.Err(); err != nil {
		return nil, err
	}
	path := c.Path(p + "path")
	t, err := pskfile.Load(path, c.Str(p+"delimiter"))
	if err != nil {
		return nil, err
	}
	e.Log.Info(pskfile.Name+": PSK identities loaded", "file", path, "identities", t.Len())
	return &Instance{PSK: t.Lookup}, nil
}
