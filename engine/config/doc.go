// Package config loads etc/emqx.conf: the cuttlefish-style "key = value" file of EMQX 3.x/4.x,
// with EMQX_ environment overrides, into a typed, immutable Config.
//
// Key names and defaults follow EMQX 3.2's etc/emqx.conf (and 4.x's where 3.2 has none); every
// key is described by a Spec in the schema (see Schema and Lookup). The default file is
// embedded in the binary (etc.EmqxConf) and Default returns the same configuration without
// parsing it. The package never logs and never reads the process environment: callers pass
// os.Environ() to Load and log the returned Notices themselves.
//
// It is a library of the binaries: cmd/emqx and cmd/emqx_ctl load the file with it and
// cmd/internal/wire turns the result into engine.Config. It imports the standard library,
// codec, engine/rewrite (to check rewrite rules at load time) and etc; never engine, and
// engine never imports it.
package config
