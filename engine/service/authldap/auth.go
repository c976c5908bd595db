package authldap

import (
	"context"
	"errors"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
)

// Authenticate implements engine.Authenticator with EMQX's semantics. The client's entry is
// read (base search, objectClass=<match_objectclass>): no such entry, a user name that cannot
// be a DN value, an entry without the password attribute, or a client without a user name (or
// one starting with '$') is ignored. An entry whose isEnabled is FALSE is refused with "not
// authorized"; otherwise the password decides: allowed when it matches (superuser when the
// superuser attribute is TRUE), refused with "bad user name or password" when it does not. With
// BindAsUser the directory checks it by a bind as the entry. When the directory does not answer
// or refuses the search, the client is refused with "server unavailable".
func (p *Plugin) Authenticate(ctx context.Context, ci *engine.ClientInfo) engine.AuthResult {
	if ci.Username == "" || ci.Username[0] == '$' {
		return engine.AuthResult{Decision: engine.AuthIgnore}
	}
	attrs := []string{p.cfg.PasswordAttr, attrEnabled}
	if p.cfg.SuperuserAttr != "" {
		attrs = append(attrs, p.cfg.SuperuserAttr)
	}
	var e *ldap.Entry
	var bindErr error
	err := p.do(ctx, func(c *ldap.Conn) error {
		var err error
		if e, err = p.read(c, ci.Username, attrs); err != nil || e == nil || !p.cfg.BindAsUser || !ci.HasPass || len(ci.Password) == 0 {
			return err
		}
		bindErr = c.Bind(e.DN, string(ci.Password))
		if bindErr != nil && !answered(bindErr) {
			return bindErr // the directory went away
		}
		if err := p.bindAccount(c); err != nil {
			c.Close() // not reusable as the plugin's account
		}
		return nil
	})
	if err != nil {
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.ServerUnavailable, Reason: err.Error()}
	}
	if e == nil {
		return engine.AuthResult{Decision: engine.AuthIgnore}
	}
	if v := e.GetAttributeValue(attrEnabled); strings.EqualFold(v, "FALSE") {
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.NotAuthorized, Reason: "disabled in the directory (isEnabled FALSE)"}
	}
	if !ci.HasPass || len(ci.Password) == 0 {
		return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "no password"}
	}
	if p.cfg.BindAsUser {
		switch {
		case ldap.IsErrorWithCode(bindErr, ldap.LDAPResultInvalidCredentials):
			return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "wrong password"}
		case bindErr != nil:
			return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "bind as " + e.DN + ": " + bindErr.Error()}
		}
	} else {
		stored := e.GetAttributeValue(p.cfg.PasswordAttr)
		if stored == "" {
			return engine.AuthResult{Decision: engine.AuthIgnore}
		}
		switch err := checkPassword(stored, ci.Password); {
		case errors.Is(err, errWrongPassword):
			return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "wrong password"}
		case err != nil:
			return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: "stored " + p.cfg.PasswordAttr + " is unusable: " + err.Error()}
		}
	}
	super := p.cfg.SuperuserAttr != "" && strings.EqualFold(e.GetAttributeValue(p.cfg.SuperuserAttr), "TRUE")
	return engine.AuthResult{Decision: engine.AuthAllow, Superuser: super}
}

// read returns the entry of username with the given attributes, nil when there is none (no
// such object, or a user name the directory does not take as a DN value).
func (p *Plugin) read(c *ldap.Conn, username string, attrs []string) (*ldap.Entry, error) {
	req := ldap.NewSearchRequest(p.entryDN(username), ldap.ScopeBaseObject, ldap.DerefFindingBaseObj,
		1, int(p.cfg.Timeout.Seconds()+0.999), false,
		"(objectClass="+ldap.EscapeFilter(p.cfg.ObjectClass)+")", attrs, nil)
	res, err := c.Search(req)
	if ldap.IsErrorAnyOf(err, ldap.LDAPResultNoSuchObject, ldap.LDAPResultInvalidDNSyntax) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(res.Entries) == 0 {
		return nil, nil
	}
	return res.Entries[0], nil
}

var _ engine.Authenticator = (*Plugin)(nil)
