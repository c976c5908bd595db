// Package logging keeps log output off the event loops: Writer is an io.Writer that never
// waits on a file, a pipe or a terminal. The caller formats a line (slog's handlers do that
// on the caller's goroutine), Write copies it into a pooled buffer and queues it, and one
// goroutine per Writer writes the queue in batches to the destination. When the queue is full
// the line is dropped and counted, and the Writer reports the drops in the log itself.
//
// The package is a library of the engine: it imports nothing of the project (engine least of
// all); cmd/emqx builds the node's logger with it.
package logging
