// Package engine is the broker: the gnet event handler, the MQTT connection state machine,
// routing from publishers to sessions, retained messages, wills, keep alive and limits.
//
// # Concurrency
//
// gnet runs one event loop per core. A connection, and the hot state of the session attached
// to it, belong to the loop that accepted the connection. A publish is routed on the
// publisher's loop: subscribers on the same loop get their packets written in the same
// callback; subscribers on other loops get the message queued in their session and their loop
// woken once per batch (gnet's Execute). Anything that may block (authentication backends,
// bridges, the HTTP API, $SYS, disk) runs on goroutines of its own and reaches the loops only
// through the Node's exported methods. Loops never block.
//
// # Imports
//
// engine is the core of the package map (ARCHITECTURE.md): it may import codec, trie, sessions
// (with sessions/kvlog) and the core libraries engine/acl, engine/logging, engine/rewrite and
// engine/transport; with engine/transport it is the only package that imports gnet. It never
// imports engine/config (cmd/internal/wire turns emqx.conf into Config), engine/ctl, or a side
// service: side services (engine/service/...) and the binaries import engine and use Node's
// exported methods.
package engine
