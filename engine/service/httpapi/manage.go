package httpapi

import (
	"net/http"
	"time"
)

// The management endpoints of EMQX 4 beyond clients and messages: applications, listeners,
// the banned table, alarms and plugins.

// Alarm is one alarm as /api/v4/alarms shows it (the $SYS service's registry, through
// Options.Alarms).
type Alarm struct {
	Name        string
	Message     string
	Details     map[string]any // read-only
	ActivatedAt time.Time
	ClearedAt   time.Time // zero while raised
}

// AlarmSource lists the node's alarms: the raised ones and the cleared ones still kept, each
// oldest first. Its methods are called from the API's goroutines, concurrently.
type AlarmSource interface {
	Alarms() (active, cleared []Alarm)
	// ClearHistory forgets the cleared alarms kept (DELETE /api/v4/alarms/deactivated).
	ClearHistory()
}

// Plugin is one plugin as /api/v4/plugins shows it.
type Plugin struct {
	Name, Version, Description string
	Active                     bool
	Type                       string // EMQX's plugin type: "auth", "bridge", "protocol", "feature"...
}

// PluginManager lists, loads and unloads the node's plugins (the plugin manager of the
// binary, through Options.Plugins). Its methods are called from the API's goroutines,
// concurrently. Load and Unload return errors whose text EMQX would print (not_found,
// already_started, not_started...); ErrPluginNotFound (wrapped) for a name it does not know.
type PluginManager interface {
	Plugins() []Plugin
	Load(name string) error
	Unload(name string) error
}

// manageRoutes adds the management endpoints to api.
func (s *Server) manageRoutes(api *http.ServeMux) {
	for _, v := range []string{"/api/v3", "/api/v4"} {
		api.HandleFunc("GET "+v+"/apps", s.listApps)
		api.HandleFunc("POST "+v+"/apps", s.addApp)
		api.HandleFunc("GET "+v+"/apps/{appid}", s.lookupApp)
		api.HandleFunc("PUT "+v+"/apps/{appid}", s.updateApp)
		api.HandleFunc("DELETE "+v+"/apps/{appid}", s.deleteApp)

		api.HandleFunc("GET "+v+"/listeners", s.listenersAll)
		api.HandleFunc("GET "+v+"/nodes/{node}/listeners", s.nodeListeners)
		api.HandleFunc("PUT "+v+"/listeners/{id}/restart", s.restartListener)
		api.HandleFunc("PUT "+v+"/nodes/{node}/listeners/{id}/restart", s.restartListener)

		api.HandleFunc("GET "+v+"/banned", s.listBanned)
		api.HandleFunc("POST "+v+"/banned", s.addBanned)
		api.HandleFunc("DELETE "+v+"/banned/{as}/{who}", s.deleteBanned)

		api.HandleFunc("GET "+v+"/alarms", s.alarmsAll)
		api.HandleFunc("GET "+v+"/alarms/activated", s.alarmsActivated)
		api.HandleFunc("GET "+v+"/alarms/deactivated", s.alarmsDeactivated)
		api.HandleFunc("DELETE "+v+"/alarms/deactivated", s.clearAlarms)
		api.HandleFunc("GET "+v+"/nodes/{node}/alarms", s.nodeAlarms)

		api.HandleFunc("GET "+v+"/plugins", s.pluginsAll)
		api.HandleFunc("GET "+v+"/nodes/{node}/plugins", s.nodePlugins)
		api.HandleFunc("PUT "+v+"/plugins/{plugin}/{op}", s.pluginOp)
		api.HandleFunc("PUT "+v+"/nodes/{node}/plugins/{plugin}/{op}", s.pluginOp)
	}
}

// perNode is the element of EMQX 4's cluster-wide lists: {"node": name, <key>: items}.
func (s *Server) perNode(key string, items any) []map[string]any {
	return []map[string]any{{"node": s.node.Name(), key: items}}
}

// nodeOK checks an optional {node} of the path.
func (s *Server) nodeOK(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("node") == "" {
		return true
	}
	return s.thisNode(w, r)
}
