package plugins

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/ctl"
	"github.com/emqgo/emqgo/engine/service/authuser"
	"github.com/emqgo/emqgo/engine/service/bridge"
)

// Handler is a control command: args without the command name; output and exit status.
type Handler = func(args []string) (string, int)

// Commands returns the handlers of plugins, users, clientid and bridges, by command name.
func (m *Manager) Commands() map[string]Handler {
	return map[string]Handler{
		"plugins":  m.pluginsCmd,
		"users":    m.usersCmd(authuser.UsernamePlugin, "users"),
		"clientid": m.usersCmd(authuser.ClientIDPlugin, "clientid"),
		"bridges":  m.bridgesCmd,
	}
}

// bridgesCmd serves `bridges` on the bridges of the loaded emqx_bridge_mqtt.
func (m *Manager) bridgesCmd(args []string) (string, int) {
	inst := m.Instance(bridge.Name)
	if inst == nil || inst.Bridges == nil {
		return fmt.Sprintf("bridges: plugin %s is not loaded (emqx_ctl plugins load %s)\n", bridge.Name, bridge.Name), 1
	}
	return inst.Bridges.Command(args)
}

func usage(cmd string) (string, int) {
	return strings.Join(ctl.Usage[cmd], "\n") + "\n", 1
}

func (m *Manager) pluginsCmd(args []string) (string, int) {
	if len(args) == 1 && args[0] == "list" {
		return m.list(), 0
	}
	if len(args) != 2 {
		return usage("plugins")
	}
	name := args[1]
	var err error
	var verb, done string
	switch args[0] {
	case "load":
		verb, done = "Load", "loaded"
		err = m.Load(name)
	case "unload":
		verb, done = "Unload", "unloaded"
		err = m.Unload(name)
	case "reload":
		verb, done = "Reload", "reloaded"
		err = m.Reload(name)
	default:
		return usage("plugins")
	}
	if err != nil {
		return fmt.Sprintf("%s plugin %s error: %v.\n", verb, name, err), 1
	}
	return fmt.Sprintf("Plugin %s %s successfully.\n", name, done), 0
}

// list prints every plugin in EMQX's form, sorted by name.
func (m *Manager) list() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for _, name := range Names() {
		p := registry[name]
		active := m.running[name] != nil || p.Builtin != ""
		fmt.Fprintf(&b, "Plugin(%s, version=%s, description=%s, active=%t)\n", name, engine.Version, p.Description, active)
	}
	return b.String()
}

// usersCmd serves `users` (emqx_auth_username) or `clientid` (emqx_auth_clientid) on the
// store of the loaded plugin.
func (m *Manager) usersCmd(plugin, cmd string) Handler {
	return func(args []string) (string, int) {
		inst := m.Instance(plugin)
		if inst == nil || inst.Users == nil {
			return fmt.Sprintf("%s: plugin %s is not loaded (emqx_ctl plugins load %s)\n", cmd, plugin, plugin), 1
		}
		a := inst.Users
		st := a.Store()
		var err error
		switch {
		case len(args) == 1 && args[0] == "list":
			var b strings.Builder
			for _, n := range st.Names() {
				b.WriteString(n)
				b.WriteByte('\n')
			}
			return b.String(), 0
		case len(args) == 3 && args[0] == "add":
			err = st.Add(args[1], []byte(args[2]), a.Spec())
		case len(args) == 3 && args[0] == "update":
			err = st.Update(args[1], []byte(args[2]), a.Spec())
		case len(args) == 2 && args[0] == "del":
			err = st.Delete(args[1])
		default:
			return usage(cmd)
		}
		switch {
		case err == nil:
			return "ok\n", 0
		case errors.Is(err, authuser.ErrExists):
			return fmt.Sprintf("Error: %s %s already exists\n", strings.TrimSuffix(cmd, "s"), args[1]), 1
		case errors.Is(err, authuser.ErrNotFound):
			return fmt.Sprintf("Error: %s %s not found\n", strings.TrimSuffix(cmd, "s"), args[1]), 1
		case errors.Is(err, authuser.ErrEmpty):
			return "Error: empty " + strings.TrimSuffix(cmd, "s") + "\n", 1
		}
		return "Error: " + err.Error() + "\n", 1
	}
}
