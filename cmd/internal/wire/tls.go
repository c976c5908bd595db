package wire

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/transport"
	"github.com/emqgo/emqgo/engine/transport/tlspsk"
)

// tlsListener resolves the TLS keys of an ssl or wss listener. The certificate files are read now
// (transport.ServerTLS), so that a missing or bad file or an unknown cipher name stops
// start-up (and check_config) with the key at fault; the engine builds the configuration again
// when it starts, with its logger for certificate reloads.
func tlsListener(l *config.Listener) (*engine.TLSListener, error) {
	t := l.TLS
	key := "listener." + string(l.Kind) + "." + l.Name
	o := transport.TLSOptions{
		CertFile:         t.CertFile,
		KeyFile:          t.KeyFile,
		KeyPassword:      t.KeyPassword,
		CACertFile:       t.CACertFile,
		VerifyPeer:       t.VerifyPeer,
		FailIfNoPeerCert: t.FailIfNoPeerCert,
		Depth:            t.Depth,
		Versions:         t.Versions,
		Ciphers:          t.Ciphers,
		ReuseSessions:    t.ReuseSessions,
		CryptoBackend:    t.CryptoBackend,
	}
	if t.CertFile != "" || len(t.PSKCiphers) == 0 {
		if _, _, err := transport.ServerTLS(o); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	if len(t.PSKCiphers) > 0 {
		if ids, ignored, err := tlspsk.CipherSuites(t.PSKCiphers); err != nil {
			return nil, fmt.Errorf("%s.psk_ciphers: %w", key, err)
		} else if len(ids) == 0 {
			return nil, fmt.Errorf("%s.psk_ciphers: none of %s is implemented (see the README for the TLS-PSK suites)", key, strings.Join(ignored, ","))
		}
	}
	return &engine.TLSListener{
		Options:            o,
		HandshakeTimeout:   t.HandshakeTimeout,
		PeerCertAsUsername: l.PeerCertAsUsername,
		PeerCertAsClientID: l.PeerCertAsClientID,
		PSKCiphers:         t.PSKCiphers,
	}, nil
}

// MissingDemoCerts says why the TLS listener l is not served when its certificate or key is
// a file that does not exist and that only the embedded default configuration names (the
// demo set etc/certs/ that `make certs` writes): "" when l is not such a listener. A missing
// file that the operator named is an error instead (FromConfig).
func MissingDemoCerts(c *config.Config, l *config.Listener) string {
	if l.TLS == nil || !isTLS(l.Kind) {
		return ""
	}
	key := "listener." + string(l.Kind) + "." + l.Name
	for _, f := range []struct{ suffix, path string }{{".certfile", l.TLS.CertFile}, {".keyfile", l.TLS.KeyFile}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if o, set := c.Origin(key + f.suffix); set && o.Explicit() {
			continue
		}
		return key + " not served: " + f.path + " does not exist (`make certs` writes a demo set; or set " + key + f.suffix + ")"
	}
	return ""
}

// isTLS says whether listeners of kind k run over TLS (ssl, and wss: WebSocket over TLS).
func isTLS(k config.Kind) bool { return k == config.KindSSL || k == config.KindWSS }
