package authpgsql

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/passhash"
)

// Authenticate implements engine.Authenticator with EMQX's semantics: auth_query's first row
// holds the stored password hash in its first column and, when there is one, the salt in
// its second (select password, salt from ...). No row is ignored, as is a client without a
// user name when the query compares it (%u), without asking. A stored user is allowed with
// the right password (then super_query makes it a superuser) and refused with "bad user name
// or password" otherwise. When the server does not answer or refuses the query, the client is
// refused with "server unavailable".
func (p *Plugin) Authenticate(ctx context.Context, ci *engine.ClientInfo) engine.AuthResult {
	q := p.cfg.AuthQuery
	if q.IsZero() || (q.Uses('u') && ci.Username == "") {
		return engine.AuthResult{Decision: engine.AuthIgnore}
	}
	rows, err := p.query(ctx, q, q.Args(ci))
	if err != nil {
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.ServerUnavailable, Reason: err.Error()}
	}
	if len(rows) == 0 {
		return engine.AuthResult{Decision: engine.AuthIgnore}
	}
	hash, salt, err := storedPassword(rows[0])
	if err != nil {
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "auth_query " + q.String() + ": " + err.Error()}
	}
	if !ci.HasPass {
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

// superuser runs super_query: a first column of the first row that is true (or 1, "1",
// "true") makes a superuser; anything else, no row, no answer or an error does not.
func (p *Plugin) superuser(ctx context.Context, ci *engine.ClientInfo) bool {
	q := p.cfg.SuperQuery
	if q.IsZero() || (q.Uses('u') && ci.Username == "") {
		return false
	}
	rows, err := p.query(ctx, q, q.Args(ci))
	if err != nil || len(rows) == 0 || len(rows[0]) == 0 {
		return false
	}
	switch v := rows[0][0].(type) {
	case bool:
		return v
	case string:
		return v == "1" || strings.EqualFold(v, "true")
	}
	n, ok := integer(rows[0][0])
	return ok && n == 1
}

// storedPassword reads auth_query's row: the hash, then the salt if the row has a second
// column that is not NULL.
func storedPassword(row []any) (hash, salt string, err error) {
	if len(row) == 0 {
		return "", "", errors.New("the row has no column")
	}
	hash, ok := text(row[0])
	if !ok {
		if row[0] == nil {
			return "", "", errors.New("the stored password is NULL")
		}
		return "", "", fmt.Errorf("first column of type %T is no password", row[0])
	}
	if len(row) > 1 && row[1] != nil {
		if salt, ok = text(row[1]); !ok {
			return "", "", fmt.Errorf("second column of type %T is no salt", row[1])
		}
	}
	return hash, salt, nil
}

// text reads a character (or bytea) column.
func text(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

// integer reads an integer column, or a text column holding one.
func integer(v any) (int64, bool) {
	switch x := v.(type) {
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

var _ engine.Authenticator = (*Plugin)(nil)
