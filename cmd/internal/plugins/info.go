package plugins

import "strings"

// Info is one plugin as the HTTP API lists it.
type Info struct {
	Name, Description string
	Active            bool   // loaded, or built into the broker
	Type              string // EMQX's plugin types: auth, bridge, protocol, feature
}

// List returns every plugin this build knows, sorted by name, with whether it is active.
// Safe for concurrent use.
func (m *Manager) List() []Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := Names()
	out := make([]Info, len(names))
	for i, name := range names {
		p := registry[name]
		out[i] = Info{Name: name, Description: p.Description, Active: m.running[name] != nil || p.Builtin != "", Type: pluginType(name)}
	}
	return out
}

// pluginType is the type EMQX 4's plugin list gives a plugin of EMQX 3.2's set.
func pluginType(name string) string {
	switch {
	case strings.HasPrefix(name, "emqx_auth_"), name == "emqx_psk_file":
		return "auth"
	case strings.HasPrefix(name, "emqx_bridge_"):
		return "bridge"
	case name == "emqx_coap", name == "emqx_lwm2m", name == "emqx_sn", name == "emqx_stomp":
		return "protocol"
	}
	return "feature"
}
