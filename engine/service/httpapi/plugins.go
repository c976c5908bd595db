package httpapi

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrPluginNotFound is what a PluginManager wraps for a plugin name it does not know.
var ErrPluginNotFound = errors.New("not_found")

// pluginJSON is a plugin as EMQX 4's /plugins shows it.
type pluginJSON struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Description string `json:"description"`
	Active      bool   `json:"active"`
	Type        string `json:"type"`
}

func (s *Server) pluginList() []pluginJSON {
	out := []pluginJSON{}
	if s.opts.Plugins == nil {
		return out
	}
	for _, p := range s.opts.Plugins.Plugins() {
		out = append(out, pluginJSON(p))
	}
	return out
}

// GET /api/v4/plugins: [{"node", "plugins": [...]}].
func (s *Server) pluginsAll(w http.ResponseWriter, r *http.Request) {
	writeData(w, s.perNode("plugins", s.pluginList()))
}

// GET /api/v4/nodes/{node}/plugins: [...].
func (s *Server) nodePlugins(w http.ResponseWriter, r *http.Request) {
	if s.thisNode(w, r) {
		writeData(w, s.pluginList())
	}
}

// PUT /api/v4/plugins/{plugin}/load|unload and /api/v4/nodes/{node}/plugins/{plugin}/load|unload.
func (s *Server) pluginOp(w http.ResponseWriter, r *http.Request) {
	if !s.nodeOK(w, r) {
		return
	}
	name, op := r.PathValue("plugin"), r.PathValue("op")
	var do func(string) error
	switch {
	case s.opts.Plugins == nil:
		writeError(w, http.StatusNotFound, codeNotFound, "this node has no plugin manager")
		return
	case op == "load":
		do = s.opts.Plugins.Load
	case op == "unload":
		do = s.opts.Plugins.Unload
	default:
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("no such endpoint: %s (want .../plugins/%s/load or /unload)", r.URL.Path, name))
		return
	}
	if err := do(name); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrPluginNotFound) {
			status = http.StatusNotFound
		}
		writeError(w, status, codeUnknown, fmt.Sprintf("%s plugin %s: %v", op, name, err))
		return
	}
	writeOK(w)
}
