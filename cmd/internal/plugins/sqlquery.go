package plugins

import (
	"strings"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/backend"
)

// parseQueries parses a SQL backend's auth_query, super_query and acl_query keys (under prefix
// p) into auth, super and acl with the backend's parser; an empty key leaves its part off, a bad
// one is a configuration error naming the key.
func parseQueries[Q any](c *Conf, p string, parse func(string) (Q, error), auth, super, acl *Q) {
	for _, k := range []struct {
		key string
		to  *Q
	}{{"auth_query", auth}, {"super_query", super}, {"acl_query", acl}} {
		text := c.Str(p + k.key)
		if strings.TrimSpace(text) == "" {
			continue // unset: that part is off
		}
		q, err := parse(text)
		if err != nil {
			c.Fail(p+k.key, err.Error())
			continue
		}
		*k.to = q
	}
}

// authPlugin is a backend plugin that both authenticates and authorizes.
type authPlugin interface {
	engine.Authenticator
	engine.Authorizer
	Close()
}

// chainInstance installs pl in the authentication chain when it has an auth query and in the
// access-control chain when it has an ACL query, its decisions counted on mon.
func chainInstance(pl authPlugin, mon *backend.Monitor, hasAuth, hasACL bool) *Instance {
	var authn engine.Authenticator
	var authz engine.Authorizer
	if hasAuth {
		authn = pl
	}
	if hasACL {
		authz = pl
	}
	return linksInstance(authn, authz, mon, pl.Close)
}

// linksInstance is the instance of a backend plugin whose links are authn and authz (either
// may be nil), their decisions counted on mon.
func linksInstance(authn engine.Authenticator, authz engine.Authorizer, mon *backend.Monitor, close func()) *Instance {
	authn, authz = counted(authn, authz, mon)
	inst := &Instance{Close: close}
	if authn != nil {
		inst.Authenticators = []engine.Authenticator{authn}
	}
	if authz != nil {
		inst.Authorizers = []engine.Authorizer{authz}
	}
	return inst
}
