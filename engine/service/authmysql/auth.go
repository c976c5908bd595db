package authmysql

import (
	"context"
	"errors"
	"strings"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/passhash"
)

// Authenticate implements engine.Authenticator with EMQX's semantics: auth_query returns the
// stored password hash, in a column named password (else the first), and optionally a salt
// in a column named salt. No row (or a client that cannot fill the query's placeholders) is
// ignored; a stored user is allowed with the right password (then super_query answering 1
// makes it a superuser) and refused with "bad user name or password" otherwise. When the
// server does not answer, or refuses the query, the client is refused with "server
// unavailable".
func (p *Plugin) Authenticate(ctx context.Context, ci *engine.ClientInfo) engine.AuthResult {
	if p.cfg.AuthQuery.IsZero() {
		return engine.AuthResult{Decision: engine.AuthIgnore}
	}
	args, ok := p.cfg.AuthQuery.Args(ci)
	if !ok {
		return engine.AuthResult{Decision: engine.AuthIgnore}
	}
	cols, rows, err := p.query(ctx, p.cfg.AuthQuery, args)
	switch {
	case err != nil:
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.ServerUnavailable, Reason: "auth_query: " + err.Error()}
	case len(rows) == 0:
		return engine.AuthResult{Decision: engine.AuthIgnore}
	case !ci.HasPass:
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "no password"}
	}
	hash, salt := rows[0][column(cols, "password", 0)], ""
	if i := column(cols, "salt", -1); i >= 0 {
		salt = rows[0][i]
	}
	switch err := passhash.Check(p.cfg.PasswordHash, ci.Password, []byte(salt), hash); {
	case errors.Is(err, passhash.ErrMismatch):
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "wrong password"}
	case err != nil:
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "stored password is unusable with password_hash " + p.cfg.PasswordHash.String() + ": " + err.Error()}
	}
	return engine.AuthResult{Decision: engine.AuthAllow, Superuser: p.superuser(ctx, ci)}
}

// superuser runs super_query: a first column of 1 (or true) in the first row makes a
// superuser; anything else, no row or an error does not (EMQX's rule).
func (p *Plugin) superuser(ctx context.Context, ci *engine.ClientInfo) bool {
	if p.cfg.SuperQuery.IsZero() {
		return false
	}
	args, ok := p.cfg.SuperQuery.Args(ci)
	if !ok {
		return false
	}
	_, rows, err := p.query(ctx, p.cfg.SuperQuery, args)
	if err != nil || len(rows) == 0 || len(rows[0]) == 0 {
		return false
	}
	v := strings.TrimSpace(rows[0][0])
	return v == "1" || strings.EqualFold(v, "true")
}

// column returns the index of the column named name (case-insensitively), or def.
func column(cols []string, name string, def int) int {
	for i, c := range cols {
		if strings.EqualFold(c, name) {
			return i
		}
	}
	return def
}

var _ engine.Authenticator = (*Plugin)(nil)
