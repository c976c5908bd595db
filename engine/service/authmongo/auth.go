package authmongo

import (
	"context"
	"errors"
	"fmt"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/passhash"
)

// Authenticate implements engine.Authenticator with EMQX's semantics: the auth query's
// document holds the stored password hash in its first password field and the salt in the
// second, if configured. No document is ignored, as is a client lacking a value of the
// selector (no user name) without asking. A document is allowed with the right password (then
// the super query may make a superuser) and refused with "bad user name or password" otherwise,
// or when its password field is missing. When the server does not answer or refuses the query,
// the client is refused with "server unavailable".
func (p *Plugin) Authenticate(ctx context.Context, ci *engine.ClientInfo) engine.AuthResult {
	q := &p.cfg.AuthQuery
	if q.Collection == "" {
		return engine.AuthResult{Decision: engine.AuthIgnore}
	}
	filter, ok := q.Selector.Filter(ci)
	if !ok {
		return engine.AuthResult{Decision: engine.AuthIgnore}
	}
	doc, err := p.findOne(ctx, q.Collection, filter)
	if err != nil {
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.ServerUnavailable, Reason: err.Error()}
	}
	if doc == nil {
		return engine.AuthResult{Decision: engine.AuthIgnore}
	}
	hash, salt, err := storedPassword(doc, q.PasswordFields)
	if err != nil {
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "auth_query on " + q.Collection + ": " + err.Error()}
	}
	if !ci.HasPass {
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "no password"}
	}
	switch err := passhash.Check(q.PasswordHash, ci.Password, []byte(salt), hash); {
	case errors.Is(err, passhash.ErrMismatch):
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "wrong password"}
	case err != nil:
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "stored password is unusable with password_hash " + q.PasswordHash.String() + ": " + err.Error()}
	}
	return engine.AuthResult{Decision: engine.AuthAllow, Superuser: p.superuser(ctx, ci)}
}

// superuser runs the super query: a document whose field is true (or 1) makes a superuser;
// anything else, no document, no answer or an error does not.
func (p *Plugin) superuser(ctx context.Context, ci *engine.ClientInfo) bool {
	q := &p.cfg.SuperQuery
	if q.Collection == "" {
		return false
	}
	filter, ok := q.Selector.Filter(ci)
	if !ok {
		return false
	}
	doc, err := p.findOne(ctx, q.Collection, filter)
	if err != nil || doc == nil {
		return false
	}
	switch v := doc[q.Field].(type) {
	case bool:
		return v
	case int32:
		return v == 1
	case int64:
		return v == 1
	case float64:
		return v == 1
	}
	return false
}

// storedPassword reads the password field and, when a second field is configured, the salt.
func storedPassword(doc map[string]any, fields []string) (hash, salt string, err error) {
	hash, ok := doc[fields[0]].(string)
	if !ok {
		if doc[fields[0]] == nil {
			return "", "", fmt.Errorf("the document has no field %s", fields[0])
		}
		return "", "", fmt.Errorf("field %s of type %T is no password", fields[0], doc[fields[0]])
	}
	if len(fields) > 1 && doc[fields[1]] != nil {
		if salt, ok = doc[fields[1]].(string); !ok {
			return "", "", fmt.Errorf("field %s of type %T is no salt", fields[1], doc[fields[1]])
		}
	}
	return hash, salt, nil
}

var _ engine.Authenticator = (*Plugin)(nil)
