// Package wire turns a loaded emqx.conf (engine/config) into the engine's settings
// (engine.Config): zones, listeners, the ACL file, the broker, retainer and module keys. It is
// the one place where the configuration schema meets the engine, so that engine never imports
// engine/config. Only the binaries under cmd/ import it. Its functions keep no state and are
// safe for concurrent use.
package wire
