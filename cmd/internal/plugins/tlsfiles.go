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
	return tlsFilesNamed(c, prefix+"cacertfile", prefix+"certfile", prefix+"keyfile")
}

// tlsFilesNamed is tlsFiles with the three keys named in full, for the plugins whose CA key
// is not "cacertfile" (EMQX 4's auth.redis.cafile, auth.mysql.ssl.cafile).
func tlsFilesNamed(c *Conf, caKey, certKey, keyKey string) *tls.Config {
	ca, cert, key := c.Path(caKey), c.Path(certKey), c.Path(keyKey)
	if ca == "" && cert == "" && key == "" {
		return nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			c.Fail(caKey, "cannot read: "+err.Error())
		} else {
			t.RootCAs = x509.NewCertPool()
			if !t.RootCAs.AppendCertsFromPEM(pem) {
				c.Fail(caKey, ca+": no PEM certificate in it")
			}
		}
	}
	switch {
	case cert != "" && key != "":
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			c.Fail(certKey, err.Error())
		} else {
			t.Certificates = []tls.Certificate{pair}
		}
	case cert != "":
		c.Fail(certKey, "set without "+keyKey)
	case key != "":
		c.Fail(keyKey, "set without "+certKey)
	}
	return t
}

// backendTLS is the TLS configuration of a plugin whose flag key (auth.redis.ssl,
// auth.mysql.ssl) is on: the files named, or the system's CAs when none is; nil when off.
func backendTLS(c *Conf, flagKey, caKey, certKey, keyKey string) *tls.Config {
	if !c.Bool(flagKey) {
		return nil
	}
	if t := tlsFilesNamed(c, caKey, certKey, keyKey); t != nil {
		return t
	}
	return &tls.Config{MinVersion: tls.VersionTLS12}
}
