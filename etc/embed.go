package etc

import _ "embed"

// EmqxConf is the default etc/emqx.conf. Read-only; safe for concurrent use.
//
//go:embed emqx.conf
var EmqxConf string

// ACLConf is the default etc/acl.conf (the rules of the user guide). Read-only.
//
//go:embed acl.conf
var ACLConf string
