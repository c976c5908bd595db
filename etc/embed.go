// Package etc holds the default configuration files, embedded in the binaries so that the
// broker runs with no files on disk. The files themselves are the documentation of every key.
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
