package plugins

import (
	"crypto/tls"
	"strings"

	"github.com/emqgo/emqgo/engine/service/authldap"
)

// startLDAP starts emqx_auth_ldap.
func startLDAP(e *Env) (*Instance, error) {
	const p = "auth.ldap."
	c := LoadConf(authldap.Name, p, []Key{
		{Pattern: p + "servers", Default: "127.0.0.1"},
		{Pattern: p + "port", Default: "389"},
		{Pattern: p + "pool", Default: "8"},
		{Pattern: p + "bind_dn", Default: "cn=root,dc=emqx,dc=io"},
		{Pattern: p + "bind_password", Default: "public"},
		{Pattern: p + "timeout", Default: "30s"},
		{Pattern: p + "device_dn", Default: "ou=device,dc=emqx,dc=io"},
		{Pattern: p + "match_objectclass", Default: "mqttUser"},
		{Pattern: p + "username.attributetype", Default: "uid"},
		{Pattern: p + "password.attributetype", Default: "userPassword"},
		{Pattern: p + "superuser.attributetype"},
		{Pattern: p + "bind_as_user", Default: "false"},
		{Pattern: p + "ssl", Default: "false"},
		{Pattern: p + "ssl.certfile"},
		{Pattern: p + "ssl.keyfile"},
		{Pattern: p + "ssl.cacertfile"},
		{Pattern: p + "ssl.verify", Default: "verify_peer"},
		{Pattern: p + "ssl.server_name_indication"},
		{Pattern: p + "ssl.fail_if_no_peer_cert"},
	}, e.EtcDir, e.Home, e.Environ)
	cfg := authldap.Config{
		Port:          positiveInt(c, p+"port"),
		Pool:          positiveInt(c, p+"pool"),
		BindDN:        c.Str(p + "bind_dn"),
		BindPassword:  c.Str(p + "bind_password"),
		Timeout:       c.Duration(p + "timeout"),
		DeviceDN:      c.Str(p + "device_dn"),
		ObjectClass:   c.Str(p + "match_objectclass"),
		UsernameAttr:  c.Str(p + "username.attributetype"),
		PasswordAttr:  c.Str(p + "password.attributetype"),
		SuperuserAttr: c.Str(p + "superuser.attributetype"),
		BindAsUser:    c.Bool(p + "bind_as_user"),
		Log:           e.Log,
	}
	if cfg.Timeout <= 0 {
		c.Fail(p+"timeout", "expected a duration greater than 0, such as 5s")
	}
	for _, s := range strings.Split(c.Str(p+"servers"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.Servers = append(cfg.Servers, s)
		}
	}
	if len(cfg.Servers) == 0 {
		c.Fail(p+"servers", "no server")
	}
	if cfg.DeviceDN == "" {
		c.Fail(p+"device_dn", "empty: the clients' entries would have no parent")
	}
	if c.Bool(p + "ssl") {
		cfg.TLS = ldapTLS(c, p)
	}
	if _, ok := c.Get(p + "ssl.fail_if_no_peer_cert"); ok {
		e.Log.Warn(p + "ssl.fail_if_no_peer_cert has no effect: it is an option of TLS servers, and the plugin is a client")
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	cfg.Monitor = e.Monitor(authldap.Name, "ldap")
	pl, err := authldap.New(cfg)
	if err != nil {
		return nil, err
	}
	return chainInstance(pl, cfg.Monitor, true, true), nil
}

// ldapTLS reads auth.ldap.ssl.*: the files, the verification and the name expected of the
// server's certificate (server_name_indication; unset, each server's own host).
func ldapTLS(c *Conf, p string) *tls.Config {
	t := tlsFiles(c, p+"ssl.")
	if t == nil {
		t = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.Enum(p+"ssl.verify", "verify_peer", "verify_none") == "verify_none" {
		t.InsecureSkipVerify = true
	}
	t.ServerName = c.Str(p + "ssl.server_name_indication")
	return t
}
