package dashboard

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// The dashboard's own endpoints, EMQX's: log in, and the administrators. Answers use the
// API's envelope ({"code":0,...}; errors {"code":N,"message":...}).

const (
	codeOK       = 0
	codeUnknown  = 102
	codeBadAuth  = 103
	codeNoAuth   = 104
	codeBadParam = 107
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg})
}

// readJSON decodes a small JSON object body into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<10))
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadParam, "the body must be a JSON object: "+err.Error())
		return false
	}
	return true
}

// clientAddr is the address failures are counted by.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// POST /api/v4/auth {"username","password"}: {"code":0,"data":{"token","username","expires_at"}}.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	addr := clientAddr(r)
	if d := s.throttle.wait(addr); d > 0 {
		secs := int((d + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, codeBadAuth, "too many wrong passwords from "+addr+": try again in "+strconv.Itoa(secs)+" s")
		return
	}
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if req.Username == "" || req.Password == "" {
		writeError(w, http.StatusBadRequest, codeNoAuth, "username and password are required")
		return
	}
	admins := s.opts.Sessions.Admins()
	if err := admins.Check(req.Username, req.Password); err != nil {
		n, d := s.throttle.failed(addr)
		s.opts.Log.Warn("dashboard login refused", "user", req.Username, "address", addr, "cause", err.Error(),
			"failures", n, "throttled_for", d.String())
		if errors.Is(err, ErrNoAdmin) || errors.Is(err, ErrBadPassword) {
			writeError(w, http.StatusUnauthorized, codeBadAuth, "username or password is wrong")
			return
		}
		writeError(w, http.StatusInternalServerError, codeUnknown, err.Error())
		return
	}
	s.throttle.succeeded(addr)
	tok, exp := s.opts.Sessions.Issue(req.Username)
	s.opts.Log.Info("dashboard login", "user", req.Username, "address", addr)
	writeJSON(w, http.StatusOK, map[string]any{"code": codeOK, "data": map[string]any{
		"token": tok, "username": req.Username, "expires_at": exp.Format(time.RFC3339)}})
}

// authed lets requests with a valid session token through to h.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, user string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("Authorization")
		if len(tok) < 7 || tok[:7] != "Bearer " {
			writeError(w, http.StatusUnauthorized, codeNoAuth, "log in first: Authorization: Bearer <token of POST /api/v4/auth> is required")
			return
		}
		user, err := s.opts.Sessions.CheckToken(tok[7:])
		if err != nil {
			writeError(w, http.StatusUnauthorized, codeBadAuth, err.Error())
			return
		}
		h(w, r, user)
	}
}

// adminError answers a failed change of the administrators.
func adminError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNoAdmin):
		writeError(w, http.StatusNotFound, codeUnknown, "no such user")
	case errors.Is(err, ErrBadPassword):
		writeError(w, http.StatusBadRequest, codeBadAuth, "the old password is wrong")
	case errors.Is(err, ErrAdminExists), errors.Is(err, ErrLastAdmin), errors.Is(err, ErrEmptyPassword):
		writeError(w, http.StatusBadRequest, codeBadParam, err.Error())
	default:
		writeError(w, http.StatusBadRequest, codeBadParam, err.Error())
	}
}

func ok(w http.ResponseWriter) { writeJSON(w, http.StatusOK, map[string]int{"code": codeOK}) }

// GET /api/v4/users: [{"username","tags"}].
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, _ string) {
	out := []map[string]string{}
	for _, a := range s.opts.Sessions.Admins().List() {
		out = append(out, map[string]string{"username": a.Name, "tags": a.Tag})
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": codeOK, "data": out})
}

// POST /api/v4/users {"username","password","tags"}.
func (s *Server) addUser(w http.ResponseWriter, r *http.Request, by string) {
	var req struct{ Username, Password, Tags string }
	if !readJSON(w, r, &req) {
		return
	}
	if err := s.opts.Sessions.Admins().Add(req.Username, req.Password, req.Tags); err != nil {
		adminError(w, err)
		return
	}
	s.opts.Log.Info("dashboard user added", "user", req.Username, "by", by)
	ok(w)
}

// PUT /api/v4/users/{name} {"tags"}.
func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, by string) {
	var req struct{ Tags string }
	if !readJSON(w, r, &req) {
		return
	}
	if err := s.opts.Sessions.Admins().SetTag(r.PathValue("name"), req.Tags); err != nil {
		adminError(w, err)
		return
	}
	ok(w)
}

// DELETE /api/v4/users/{name}.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, by string) {
	name := r.PathValue("name")
	if err := s.opts.Sessions.Admins().Delete(name); err != nil {
		adminError(w, err)
		return
	}
	s.opts.Log.Info("dashboard user deleted", "user", name, "by", by)
	ok(w)
}

// PUT /api/v4/change_pwd/{name} {"old_pwd","new_pwd"}: a user changes their own password
// (the old one is checked, and wrong ones count as failed logins).
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, by string) {
	name := r.PathValue("name")
	if name != by {
		writeError(w, http.StatusForbidden, codeBadAuth, "a user changes only their own password (emqx_ctl admins passwd resets others')")
		return
	}
	var req struct {
		Old string `json:"old_pwd"`
		New string `json:"new_pwd"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	addr := clientAddr(r)
	if d := s.throttle.wait(addr); d > 0 {
		writeError(w, http.StatusTooManyRequests, codeBadAuth, "too many wrong passwords: try again later")
		return
	}
	err := s.opts.Sessions.Admins().ChangePassword(name, req.Old, req.New)
	if errors.Is(err, ErrBadPassword) {
		n, d := s.throttle.failed(addr)
		s.opts.Log.Warn("dashboard password change refused: wrong old password", "user", name, "address", addr, "failures", n, "throttled_for", d.String())
	}
	if err != nil {
		adminError(w, err)
		return
	}
	s.opts.Log.Info("dashboard password changed", "user", name, "address", addr)
	ok(w)
}
