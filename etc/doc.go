// Package etc holds the default configuration files, embedded in the binaries so that the
// broker runs with no files on disk. The files themselves are the documentation of every key.
//
// It imports nothing; engine/acl and engine/config read the embedded files.
package etc
