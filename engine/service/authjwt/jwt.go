// Package authjwt is the emqx_auth_jwt plugin: a client presents a JSON Web Token as its
// password (or user name), signed with an HMAC secret (auth.jwt.secret) or an RSA or ECDSA key
// whose public half the broker holds (auth.jwt.pubkey). The token's exp and nbf are checked,
// and, with auth.jwt.verify_claims, chosen claims must equal fixed values or the client's user
// name (%u) or client id (%c). It is an engine.Authenticator that cmd/emqx installs when the
// plugin is loaded.
package authjwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
)

// Name is the plugin's name.
const Name = "emqx_auth_jwt"

// Config is the plugin's settings (etc/plugins/emqx_auth_jwt.conf).
type Config struct {
	Secret []byte // HMAC secret (HS256/384/512); nil: no HMAC tokens
	// PubKey is an RSA or ECDSA public key (RS*, PS*, ES* tokens); nil: none.
	PubKey any
	// FromUsername takes the token from the user name instead of the password
	// (auth.jwt.from = username).
	FromUsername bool
	// Claims are the claims a token must carry (auth.jwt.verify_claims.<claim> = value): each
	// value is compared as a string after %u and %c are replaced by the client's user name and
	// client id. Empty: no claim is checked besides exp and nbf.
	Claims map[string]string
	// Leeway tolerates clock skew in exp and nbf.
	Leeway time.Duration
}

// ParsePublicKey reads a PEM public key (PKIX "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY" or a
// certificate) for Config.PubKey.
func ParsePublicKey(pemData []byte) (any, error) {
	b, _ := pem.Decode(pemData)
	if b == nil {
		return nil, errors.New("no PEM block found")
	}
	var key any
	var err error
	switch b.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(b.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(b.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(b.Bytes); err == nil {
			key = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key (expected PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)", b.Type)
	}
	if err != nil {
		return nil, err
	}
	switch key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
		return key, nil
	}
	return nil, fmt.Errorf("public key of type %T is neither RSA nor ECDSA", key)
}

// Authenticator verifies tokens. A client that presents no token, or something that is not a
// JWT, is left to the rest of the chain (ignore); a JWT that fails verification (signature,
// algorithm, exp, nbf, claims) is refused. Safe for concurrent use; it never blocks.
type Authenticator struct {
	cfg    Config
	parser *jwt.Parser
}

// New returns the authenticator of cfg. At least one of Secret and PubKey must be set.
func New(cfg Config) (*Authenticator, error) {
	if len(cfg.Secret) == 0 && cfg.PubKey == nil {
		return nil, errors.New("neither auth.jwt.secret nor auth.jwt.pubkey is set: no token could be verified")
	}
	var algs []string
	if len(cfg.Secret) > 0 {
		algs = append(algs, "HS256", "HS384", "HS512")
	}
	switch cfg.PubKey.(type) {
	case *rsa.PublicKey:
		algs = append(algs, "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
	case *ecdsa.PublicKey:
		algs = append(algs, "ES256", "ES384", "ES512")
	case nil:
	default:
		return nil, fmt.Errorf("public key of type %T is neither RSA nor ECDSA", cfg.PubKey)
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithLeeway(cfg.Leeway)}
	return &Authenticator{cfg: cfg, parser: jwt.NewParser(opts...)}, nil
}

// Name is the plugin's name.
func (a *Authenticator) Name() string { return Name }

func (a *Authenticator) key(t *jwt.Token) (any, error) {
	switch t.Method.(type) {
	case *jwt.SigningMethodHMAC:
		return a.cfg.Secret, nil
	default:
		return a.cfg.PubKey, nil
	}
}

// looksLikeJWT says whether s has the three base64url parts of a compact JWS.
func looksLikeJWT(s string) bool {
	if strings.Count(s, ".") != 2 || len(s) < 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '=') {
			return false
		}
	}
	return true
}

// Authenticate implements engine.Authenticator.
func (a *Authenticator) Authenticate(_ context.Context, c *engine.ClientInfo) engine.AuthResult {
	token := string(c.Password)
	if a.cfg.FromUsername {
		token = c.Username
	} else if !c.HasPass {
		token = ""
	}
	if !looksLikeJWT(token) {
		return engine.AuthResult{Decision: engine.AuthIgnore}
	}
	claims := jwt.MapClaims{}
	if _, err := a.parser.ParseWithClaims(token, claims, a.key); err != nil {
		if errors.Is(err, jwt.ErrTokenMalformed) {
			return engine.AuthResult{Decision: engine.AuthIgnore}
		}
		return deny("invalid token: " + err.Error())
	}
	for _, name := range sortedKeys(a.cfg.Claims) {
		want := strings.NewReplacer("%u", c.Username, "%c", c.ClientID).Replace(a.cfg.Claims[name])
		got, ok := claims[name]
		if !ok {
			return deny("token lacks claim " + name)
		}
		if s, isStr := got.(string); !isStr || s != want {
			if !isStr && fmt.Sprint(got) == want {
				continue // a number or boolean claim compared by its text
			}
			return deny("claim " + name + " does not match")
		}
	}
	return engine.AuthResult{Decision: engine.AuthAllow}
}

func deny(reason string) engine.AuthResult {
	return engine.AuthResult{Decision: engine.AuthDeny, Code: codec.BadUserNameOrPassword, Reason: reason}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var _ engine.Authenticator = (*Authenticator)(nil)
