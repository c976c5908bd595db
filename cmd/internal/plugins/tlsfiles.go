package plugins

import (
	"crypto/tls"
	"crypto/x509"
	"os"
)

// tlsFiles reads a plugin's TLS files to its backend, prefix+"cacertfile", "certfile" and
// "keyfile" (auth.http.ssl.*, auth.pgsql.ssl_opts.*): nil when none is set. Errors are
// recorded on c under the key at fault.
func tlsFiles(c *Conf, prefix string) *tls.Config {
	ca, cert, key := c.Path(prefix+"cacertfile"), c.Path(prefix+"certfile"), c.Path(prefix+"keyfile")
	if ca == "" && cert == "" && key == "" {
		return nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			c.Fail(prefix+"cacertfile", "cannot read: "+err.Error())
		} else {
			t.RootCAs = x509.NewCertPool()
			if !t.RootCAs.AppendCertsFromPEM(pem) {
				c.Fail(prefix+"cacertfile", ca+": no PEM certificate in it")
			}
		}
	}
	switch {
	case cert != "" && key != "":
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			c.Fail(prefix+"certfile", err.Error())
		} else {
			t.Certificates = []tls.Certificate{pair}
		}
	case cert != "":
		c.Fail(prefix+"certfile", "set without "+prefix+"keyfile")
	case key != "":
		c.Fail(prefix+"keyfile", "set without "+prefix+"certfile")
	}
	return t
}
