package httpapi

import (
	"net/http"
	"strings"
)

// TokenChecker verifies the bearer tokens the API accepts besides the applications' Basic
// credentials: `Authorization: Bearer <token>`. The dashboard issues them to its logged-in
// administrators (engine/service/dashboard), so the console calls this API with the
// administrator's session rather than an application secret. CheckToken returns the user the
// token was issued to, or an error saying why it is refused (bad signature, expired, user
// deleted or password changed). It is called from the API's goroutines, concurrently.
type TokenChecker interface {
	CheckToken(token string) (user string, err error)
}

// bearer returns the token of an `Authorization: Bearer` header, "" without one.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// checkBearer answers whether r carries a bearer token the Options' TokenChecker accepts; a
// refused one is answered 401 (code 103) here, and ok is false with answered true.
func (s *Server) checkBearer(w http.ResponseWriter, r *http.Request) (ok, answered bool) {
	tok := bearer(r)
	if tok == "" || s.opts.Tokens == nil {
		return false, false
	}
	if _, err := s.opts.Tokens.CheckToken(tok); err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="emqx", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, codeBadAuth, "bearer token refused: "+err.Error())
		return false, true
	}
	return true, false
}
