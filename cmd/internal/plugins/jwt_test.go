package plugins

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func hmacToken(t *testing.T, secret string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestJWTPlugin: a token signed with the secret allows; a wrong signature, an expired token or
// one not yet valid denies; a password that is no JWT is ignored (allow_anonymous decides).
func TestJWTPlugin(t *testing.T) {
	n := startNode(t, true)
	e := testEnv(t, "EMQX_AUTH__JWT__SECRET=topsecret")
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	if err := m.Start("emqx_auth_jwt"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	wantConnect(t, n, "j1", "u", hmacToken(t, "topsecret", jwt.MapClaims{"exp": now.Add(time.Hour).Unix()}), nil)
	wantConnect(t, n, "j2", "u", hmacToken(t, "emqxsecret", jwt.MapClaims{}), errBadCreds) // the default secret, overridden
	wantConnect(t, n, "j3", "u", hmacToken(t, "topsecret", jwt.MapClaims{"exp": now.Add(-time.Minute).Unix()}), errBadCreds)
	wantConnect(t, n, "j4", "u", hmacToken(t, "topsecret", jwt.MapClaims{"nbf": now.Add(time.Hour).Unix()}), errBadCreds)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	wantConnect(t, n, "j5", "u", none, errBadCreds)
	wantConnect(t, n, "j6", "u", "just-a-password", nil) // ignored
}

// TestJWTClaimsAndECDSA: an ES256 token verified with auth.jwt.pubkey, taken from the user
// name, with verify_claims on (%c is the client id).
func TestJWTClaimsAndECDSA(t *testing.T) {
	n := startNode(t, false)
	e := testEnv(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	os.MkdirAll(filepath.Join(e.Home, "etc", "certs"), 0o755)
	os.WriteFile(filepath.Join(e.Home, "etc", "certs", "jwt.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	writePluginConf(t, e, "emqx_auth_jwt", "auth.jwt.pubkey = etc/certs/jwt.pem\nauth.jwt.from = username\nauth.jwt.verify_claims = on\nauth.jwt.verify_claims.clientid = %c\nauth.jwt.verify_claims.role = device\n")
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	if err := m.Load("emqx_auth_jwt"); err != nil {
		t.Fatal(err)
	}
	sign := func(claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	wantConnect(t, n, "dev-7", sign(jwt.MapClaims{"clientid": "dev-7", "role": "device"}), "", nil)
	wantConnect(t, n, "dev-8", sign(jwt.MapClaims{"clientid": "dev-7", "role": "device"}), "", errBadCreds)
	wantConnect(t, n, "dev-7", sign(jwt.MapClaims{"clientid": "dev-7"}), "", errBadCreds)
	// The file replaces the embedded default, whose secret no longer applies: no HMAC token passes.
	wantConnect(t, n, "dev-7", hmacToken(t, "emqxsecret", jwt.MapClaims{"clientid": "dev-7", "role": "device"}), "", errBadCreds)
}
