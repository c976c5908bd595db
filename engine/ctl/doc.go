// Package ctl is the node's local control channel: the running broker serves it on a Unix
// socket in its data directory, and bin/emqx_ctl (and bin/emqx stop/ping) talk to it. A Unix
// socket with mode 0600 restricts the channel to the local host and the node's own user, which
// is what EMQX's node-name-and-cookie scheme achieves for emqx_ctl.
//
// The protocol is one JSON request line ({"args": [...]}) answered by one JSON response line
// ({"code": N, "output": "..."}), then the connection closes.
//
// It is a library of the binaries (cmd/emqx serves it, cmd/emqx_ctl calls it) and imports only
// the standard library; engine does not import it.
package ctl
