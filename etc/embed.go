package etc

import "embed"

// EmqxConf is the default etc/emqx.conf. Read-only; safe for concurrent use.
//
//go:embed emqx.conf
var EmqxConf string

// ACLConf is the default etc/acl.conf (the rules of the user guide). Read-only.
//
//go:embed acl.conf
var ACLConf string

// Plugins holds the default config file of each plugin, plugins/<name>.conf (EMQX's
// etc/plugins/). Read-only.
//
//go:embed plugins/*.conf
var Plugins embed.FS
