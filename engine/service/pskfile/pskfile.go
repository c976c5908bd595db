// Package pskfile is the emqx_psk_file plugin: the TLS-PSK keys of the node's listeners with
// psk_ciphers, read from a file of identity:secret lines (EMQX's etc/psk.txt). The secret is
// the key as raw bytes, so that the line "client1:1234" matches a client started with
// `openssl s_client -psk 31323334 -psk_identity client1` or `mosquitto_pub --psk 31323334
// --psk-identity client1`.
//
// File format, as EMQX reads it: one entry per line, the identity, the delimiter
// (psk.file.delimiter, ":" by default), the secret up to the end of the line (a trailing
// "\r" or "\n" is not part of it; further delimiters are). Unlike EMQX, empty lines and lines
// starting with '#' are skipped, and a line without the delimiter, an empty identity or
// secret, or an identity listed twice is an error naming the file and line (EMQX stops
// reading at such a line with a warning).
package pskfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
)

// Name is the plugin's name.
const Name = "emqx_psk_file"

// Table is the identities and keys of one PSK file. Immutable; safe for concurrent use.
type Table struct {
	keys map[string][]byte
}

// Load reads the PSK file at path with the given delimiter.
func Load(path, delimiter string) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("psk.file.path: %w", err)
	}
	return Parse(path, data, delimiter)
}

// Parse reads the lines of a PSK file (name is used in errors).
func Parse(name string, data []byte, delimiter string) (*Table, error) {
	if delimiter == "" {
		return nil, errors.New("psk.file.delimiter is empty")
	}
	t := &Table{keys: map[string][]byte{}}
	first := map[string]int{}
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 || line[0] == '#' {
			continue
		}
		id, secret, ok := bytes.Cut(line, []byte(delimiter))
		switch {
		case !ok:
			return nil, fmt.Errorf("%s:%d: no %q between identity and secret", name, i+1, delimiter)
		case len(id) == 0:
			return nil, fmt.Errorf("%s:%d: empty identity", name, i+1)
		case len(secret) == 0:
			return nil, fmt.Errorf("%s:%d: empty secret for identity %q", name, i+1, id)
		case len(id) > 1024:
			return nil, fmt.Errorf("%s:%d: identity longer than 1024 bytes", name, i+1)
		}
		if l, dup := first[string(id)]; dup {
			return nil, fmt.Errorf("%s:%d: identity %q already listed at line %d", name, i+1, id, l)
		}
		first[string(id)] = i + 1
		t.keys[string(id)] = bytes.Clone(secret)
	}
	return t, nil
}

// Lookup returns the key of identity (engine.PSKLookup). The key is shared: callers must not
// change it.
func (t *Table) Lookup(identity string) ([]byte, bool) {
	k, ok := t.keys[identity]
	return k, ok
}

// Len is the number of identities.
func (t *Table) Len() int { return len(t.keys) }
