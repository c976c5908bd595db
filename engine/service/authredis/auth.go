package authredis

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/passhash"
)

// Authenticate implements engine.Authenticator with EMQX's semantics: auth_cmd returns the
// stored password hash (HGET) or the hash and then a salt (HMGET ... password salt). No such
// user (a nil reply) or a client that cannot fill the command's placeholders is ignored; a
// stored user is allowed with the right password (then super_cmd answering "1" makes it a
// superuser) and refused with "bad user name or password" otherwise. When Redis does not
// answer, the client is refused with "server unavailable".
func (p *Plugin) Authenticate(ctx context.Context, ci *engine.ClientInfo) engine.AuthResult {
	if p.cfg.AuthCmd.IsZero() {
		return engine.AuthResult{Decision: engine.AuthIgnore}
	}
	args, ok := p.cfg.AuthCmd.Args(ci)
	if !ok {
		return engine.AuthResult{Decision: engine.AuthIgnore}
	}
	v, err := p.do(ctx, args)
	if errors.Is(err, redis.Nil) {
		return engine.AuthResult{Decision: engine.AuthIgnore}
	}
	if err != nil {
		return unavailable(err)
	}
	hash, salt, found, err := storedPassword(v)
	switch {
	case err != nil:
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.ServerUnavailable, Reason: "auth_cmd " + p.cfg.AuthCmd.String() + ": " + err.Error()}
	case !found:
		return engine.AuthResult{Decision: engine.AuthIgnore}
	case !ci.HasPass:
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "no password"}
	}
	switch err := passhash.Check(p.cfg.PasswordHash, ci.Password, []byte(salt), hash); {
	case errors.Is(err, passhash.ErrMismatch):
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "wrong password"}
	case err != nil:
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "stored password is unusable with password_hash " + p.cfg.PasswordHash.String() + ": " + err.Error()}
	}
	return engine.AuthResult{Decision: engine.AuthAllow, Superuser: p.superuser(ctx, ci)}
}

// superuser runs super_cmd: "1" (or "true") makes a superuser; anything else, no answer or
// an error does not (EMQX's rule).
func (p *Plugin) superuser(ctx context.Context, ci *engine.ClientInfo) bool {
	if p.cfg.SuperCmd.IsZero() {
		return false
	}
	args, ok := p.cfg.SuperCmd.Args(ci)
	if !ok {
		return false
	}
	v, err := p.do(ctx, args)
	if err != nil {
		return false
	}
	if l, ok := v.([]any); ok && len(l) > 0 { // HMGET
		v = l[0]
	}
	s, _ := replyString(v)
	return s == "1" || s == "true"
}

// storedPassword reads auth_cmd's reply: a string (HGET) or a list whose first element is the
// hash and second, if any, the salt (HMGET). found is false when the hash is nil.
func storedPassword(v any) (hash, salt string, found bool, err error) {
	l, isList := v.([]any)
	if !isList {
		hash, found = replyString(v)
		if !found && v != nil {
			return "", "", false, fmt.Errorf("reply of type %T is no password", v)
		}
		return hash, "", found, nil
	}
	if len(l) == 0 || l[0] == nil {
		return "", "", false, nil
	}
	if hash, found = replyString(l[0]); !found {
		return "", "", false, fmt.Errorf("reply element of type %T is no password", l[0])
	}
	if len(l) > 1 && l[1] != nil {
		if salt, found = replyString(l[1]); !found {
			return "", "", false, fmt.Errorf("reply element of type %T is no salt", l[1])
		}
	}
	return hash, salt, true, nil
}

func unavailable(err error) engine.AuthResult {
	return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.ServerUnavailable, Reason: err.Error()}
}

var _ engine.Authenticator = (*Plugin)(nil)
