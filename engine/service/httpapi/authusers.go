package httpapi

import (
	"errors"
	"net/http"
)

// The users of emqx_auth_username and emqx_auth_clientid, as EMQX 3's plugin APIs have them:
//
//	GET    /api/v4/auth_username             ["name", ...]
//	POST   /api/v4/auth_username             {"username", "password"}
//	GET    /api/v4/auth_username/{name}      {"username"}
//	PUT    /api/v4/auth_username/{name}      {"password"}
//	DELETE /api/v4/auth_username/{name}
//
// and the same under /auth_clientid with "clientid". A plugin that is not loaded answers 404.

// UserStore is one plugin's users (passwords hashed by the plugin's password_hash). Its
// methods are called from the API's goroutines, concurrently. Add answers an error wrapping
// ErrUserExists for a name taken, Update and Delete one wrapping ErrUserNotFound for a name
// it does not have.
type UserStore interface {
	Names() []string
	Add(name, password string) error
	Update(name, password string) error
	Delete(name string) error
}

// AuthUsers finds the user store of a loaded plugin: kind is "username" (emqx_auth_username)
// or "clientid" (emqx_auth_clientid); nil when that plugin is not loaded.
type AuthUsers interface {
	Users(kind string) UserStore
}

// Errors a UserStore wraps.
var (
	ErrUserExists   = errors.New("already exists")
	ErrUserNotFound = errors.New("not found")
)

// authUserRoutes adds the endpoints to api.
func (s *Server) authUserRoutes(api *http.ServeMux) {
	for _, v := range []string{"/api/v3", "/api/v4"} {
		for _, kind := range []string{"username", "clientid"} {
			base := v + "/auth_" + kind
			api.HandleFunc("GET "+base, s.userList(kind))
			api.HandleFunc("POST "+base, s.userAdd(kind))
			api.HandleFunc("GET "+base+"/{name}", s.userOne(kind))
			api.HandleFunc("PUT "+base+"/{name}", s.userUpdate(kind))
			api.HandleFunc("DELETE "+base+"/{name}", s.userDelete(kind))
		}
	}
}

// store returns kind's store, or answers 404.
func (s *Server) store(w http.ResponseWriter, kind string) UserStore {
	var st UserStore
	if s.opts.AuthUsers != nil {
		st = s.opts.AuthUsers.Users(kind)
	}
	if st == nil {
		writeError(w, http.StatusNotFound, codeNotFound, "plugin emqx_auth_"+kind+" is not loaded")
	}
	return st
}

func writeUserError(w http.ResponseWriter, kind, name string, err error) {
	switch {
	case errors.Is(err, ErrUserExists):
		writeError(w, http.StatusBadRequest, codeParamType, kind+" "+name+" already exists")
	case errors.Is(err, ErrUserNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, kind+" "+name+" not found")
	default:
		writeError(w, http.StatusBadRequest, codeUnknown, err.Error())
	}
}

func (s *Server) userList(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if st := s.store(w, kind); st != nil {
			names := st.Names()
			if names == nil {
				names = []string{}
			}
			writeData(w, names)
		}
	}
}

func (s *Server) userOne(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st := s.store(w, kind)
		if st == nil {
			return
		}
		name := r.PathValue("name")
		for _, n := range st.Names() {
			if n == name {
				writeData(w, map[string]string{kind: name})
				return
			}
		}
		writeUserError(w, kind, name, ErrUserNotFound)
	}
}

// userBody reads {"<kind>": name, "password": pw}; the name only when withName.
func userBody(w http.ResponseWriter, r *http.Request, limit int64, kind string, withName bool) (name, pw string, ok bool) {
	obj, err := readObject(w, r, limit)
	if err == nil && withName {
		name, _, err = fieldString(obj, kind)
	}
	if err == nil {
		pw, _, err = fieldString(obj, "password")
	}
	if err != nil {
		writeParamError(w, err)
		return "", "", false
	}
	if (withName && name == "") || pw == "" {
		field := "password"
		if withName && name == "" {
			field = kind
		}
		writeError(w, http.StatusBadRequest, codeMissingParam, "field \""+field+"\" is required")
		return "", "", false
	}
	return name, pw, true
}

func (s *Server) userAdd(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st := s.store(w, kind)
		if st == nil {
			return
		}
		name, pw, ok := userBody(w, r, s.opts.MaxBodyBytes, kind, true)
		if !ok {
			return
		}
		if err := st.Add(name, pw); err != nil {
			writeUserError(w, kind, name, err)
			return
		}
		writeOK(w)
	}
}

func (s *Server) userUpdate(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st := s.store(w, kind)
		if st == nil {
			return
		}
		name := r.PathValue("name")
		_, pw, ok := userBody(w, r, s.opts.MaxBodyBytes, kind, false)
		if !ok {
			return
		}
		if err := st.Update(name, pw); err != nil {
			writeUserError(w, kind, name, err)
			return
		}
		writeOK(w)
	}
}

func (s *Server) userDelete(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st := s.store(w, kind)
		if st == nil {
			return
		}
		name := r.PathValue("name")
		if err := st.Delete(name); err != nil {
			writeUserError(w, kind, name, err)
			return
		}
		writeOK(w)
	}
}
