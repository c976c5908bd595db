// Package authuser is the emqx_auth_username and emqx_auth_clientid plugins: clients
// authenticated by a user name (or client id) and password kept by the broker itself, from the
// plugin's configuration (auth.user.N.username / auth.client.N.clientid) and from
// `emqx_ctl users|clientid add|update|del`, stored durably in a file of the data directory
// (Store). Each is an engine.Authenticator; cmd/emqx installs it into the node's chain when
// the plugin is loaded.
package authuser

import (
	"context"
	"errors"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/passhash"
)

// By says which field of CONNECT identifies the client.
type By uint8

const (
	// ByUsername is emqx_auth_username: the user name.
	ByUsername By = iota
	// ByClientID is emqx_auth_clientid: the client id.
	ByClientID
)

// Plugin names.
const (
	UsernamePlugin = "emqx_auth_username"
	ClientIDPlugin = "emqx_auth_clientid"
)

// Authenticator checks clients against a Store. A client whose name is not stored is left to
// the rest of the chain (ignore); a stored one is allowed with the right password and refused
// (bad user name or password) otherwise. Safe for concurrent use; it never blocks on the disk.
type Authenticator struct {
	by    By
	store *Store
	spec  passhash.Spec // password_hash for new entries
}

// New returns the authenticator of store, identifying clients by by; spec is password_hash,
// used for the entries added or updated through it.
func New(by By, store *Store, spec passhash.Spec) *Authenticator {
	return &Authenticator{by: by, store: store, spec: spec}
}

// Name is the plugin's name.
func (a *Authenticator) Name() string {
	if a.by == ByClientID {
		return ClientIDPlugin
	}
	return UsernamePlugin
}

// Store is the table the authenticator checks against.
func (a *Authenticator) Store() *Store { return a.store }

// Spec is password_hash for new entries.
func (a *Authenticator) Spec() passhash.Spec { return a.spec }

// Authenticate implements engine.Authenticator.
func (a *Authenticator) Authenticate(_ context.Context, c *engine.ClientInfo) engine.AuthResult {
	name := c.Username
	if a.by == ByClientID {
		name = c.ClientID
	}
	if name == "" {
		return engine.AuthResult{Decision: engine.AuthIgnore}
	}
	found, err := a.store.Check(name, c.Password)
	switch {
	case !found:
		return engine.AuthResult{Decision: engine.AuthIgnore}
	case err == nil && c.HasPass:
		return engine.AuthResult{Decision: engine.AuthAllow}
	case err == nil || errors.Is(err, passhash.ErrMismatch):
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "wrong password"}
	}
	return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "stored password of " + name + " is unusable: " + err.Error()}
}

var _ engine.Authenticator = (*Authenticator)(nil)
