package httpapi

import "net/http"

// authenticate lets a request through to h when it carries the Basic credentials of an
// enabled application, or a bearer token Options.Tokens accepts (token.go); otherwise it answers 401 with EMQX's code (104: none given, 103:
// wrong ones).
func (s *Server) authenticate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, answered := s.checkBearer(w, r); ok || answered {
			if ok {
				h.ServeHTTP(w, r)
			}
			return
		}
		id, secret, ok := r.BasicAuth()
		if !ok || id == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="emqx"`)
			writeError(w, http.StatusUnauthorized, codeNoAuth, "HTTP Basic authentication with an application id and secret is required")
			return
		}
		if !s.opts.Apps.Check(id, secret) {
			w.Header().Set("WWW-Authenticate", `Basic realm="emqx"`)
			writeError(w, http.StatusUnauthorized, codeBadAuth, "application id or secret is wrong")
			return
		}
		h.ServeHTTP(w, r)
	})
}
