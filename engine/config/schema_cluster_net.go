package config

import "time"

// ClusterSSL is cluster.ssl and cluster.ssl.*: TLS on the routes between nodes, mutual by
// default. EMQX 3.2 turns TLS distribution on with cluster.proto_dist = inet_tls and reads
// its options from an Erlang-terms file (node.ssl_dist_optfile, no effect here); these keys
// carry the same options in the listeners' names.
type ClusterSSL struct {
	On               bool // cluster.ssl
	KeyFile          string
	CertFile         string
	CACertFile       string
	KeyPassword      string
	VerifyPeer       bool // verify = verify_peer (the default)
	FailIfNoPeerCert bool
	Depth            int
	Versions         []string
	Ciphers          []string
	HandshakeTimeout time.Duration
}

// TLSEnabled says whether the routes run over TLS: cluster.ssl = on or cluster.proto_dist =
// inet_tls.
func (c *Cluster) TLSEnabled() bool { return c.SSL.On || c.ProtoDist == "inet_tls" }

// ClusterDNS is cluster.dns.*: with cluster.discovery = dns the nodes are <App>@<ip> for
// each A record of Name, resolved at start and every Refresh.
type ClusterDNS struct {
	Name    string
	App     string
	Server  string        // cluster.dns.server: resolver ip:port; "" the system's (beyond EMQX)
	Refresh time.Duration // cluster.dns.refresh (beyond EMQX)
}

// clusterNetDefs are the keys of TLS between nodes and of dns discovery's resolver.
func clusterNetDefs() []fixedDef {
	sec := time.Second
	ssl := func(c *Config) *ClusterSSL { return &c.Cluster.SSL }
	return []fixedDef{
		f(sp("cluster.ssl", TypeBool, "off", "TLS on the cluster routes (mutual: each node presents its certificate and verifies the other's)"), func(c *Config, v any) { ssl(c).On = asBool(v) }),
		f(sp("cluster.ssl.keyfile", TypePath, "", "this node's private key (PEM)"), func(c *Config, v any) { ssl(c).KeyFile = asStr(v) }),
		f(sp("cluster.ssl.certfile", TypePath, "", "this node's certificate (PEM), for accepting and dialling routes; names the node's host"), func(c *Config, v any) { ssl(c).CertFile = asStr(v) }),
		f(sp("cluster.ssl.cacertfile", TypePath, "", "CA certificates that sign the nodes' certificates (PEM)"), func(c *Config, v any) { ssl(c).CACertFile = asStr(v) }),
		f(sp("cluster.ssl.key_password", TypeString, "", "password of an encrypted keyfile"), func(c *Config, v any) { ssl(c).KeyPassword = asStr(v) }),
		f(sp("cluster.ssl.verify", TypeEnum, "verify_peer", "verify the other nodes' certificates; verify_none encrypts without authenticating").enum("verify_peer", "verify_none"), func(c *Config, v any) { ssl(c).VerifyPeer = asStr(v) == "verify_peer" }),
		f(sp("cluster.ssl.fail_if_no_peer_cert", TypeBool, "true", "with verify_peer, refuse a node without a certificate"), func(c *Config, v any) { ssl(c).FailIfNoPeerCert = asBool(v) }),
		f(sp("cluster.ssl.depth", TypeInt, "10", "longest chain of intermediate certificates").rng(0, 255), func(c *Config, v any) { ssl(c).Depth = asInt(v) }),
		f(sp("cluster.ssl.tls_versions", TypeList, "tlsv1.3,tlsv1.2", "TLS versions of the routes").enum("tlsv1.3", "tlsv1.2", "tlsv1.1", "tlsv1"), func(c *Config, v any) { ssl(c).Versions = asList(v) }),
		f(sp("cluster.ssl.ciphers", TypeList, "", "cipher suites by OpenSSL name; unset for Go's defaults"), func(c *Config, v any) { ssl(c).Ciphers = asList(v) }),
		f(sp("cluster.ssl.handshake_timeout", TypeDuration, "15s", "time allowed for a route's TLS handshake").unit(sec), func(c *Config, v any) { ssl(c).HandshakeTimeout = asDur(v) }),
		f(sp("cluster.dns.server", TypeAddr, "", "resolver of dns discovery, ip:port; unset: the system's (beyond EMQX)"), func(c *Config, v any) { c.Cluster.DNS.Server = asStr(v) }),
		f(sp("cluster.dns.refresh", TypeDuration, "30s", "how often dns discovery resolves cluster.dns.name again (beyond EMQX)").unit(sec), func(c *Config, v any) { c.Cluster.DNS.Refresh = asDur(v) }),
	}
}
