package httpapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/emqgo/emqgo/engine/ctl"
)

// Command is the handler of `emqx_ctl mgmt list|insert|update|lookup|delete` with EMQX 3.2's
// output: args without the command name; output and exit status. Safe for concurrent use.
func (a *Apps) Command(args []string) (string, int) {
	switch {
	case len(args) == 1 && args[0] == "list":
		var b strings.Builder
		for _, app := range a.List() {
			fmt.Fprintf(&b, "app_id: %s, secret: %s, name: %s, desc: %s, status: %t, expired: %s\n",
				app.ID, app.Secret, app.Name, app.Desc, app.Enabled, ctlExpired(&app))
		}
		return b.String(), 0
	case len(args) == 3 && args[0] == "insert":
		app, err := a.Add(App{ID: args[1], Name: args[2], Desc: "Application user", Enabled: true})
		if errors.Is(err, ErrAppExists) {
			return "Error: already existed\n", 1
		} else if err != nil {
			return "Error: " + err.Error() + "\n", 1
		}
		return "AppSecret: " + app.Secret + "\n", 0
	case len(args) == 2 && args[0] == "lookup":
		app, ok := a.Lookup(args[1])
		if !ok {
			return "Not Found.\n", 1
		}
		return fmt.Sprintf("app_id: %s\nsecret: %s\nname: %s\ndesc: %s\nstatus: %t\nexpired: %s\n",
			app.ID, app.Secret, app.Name, app.Desc, app.Enabled, ctlExpired(&app)), 0
	case len(args) == 3 && args[0] == "update":
		enabled, err := strconv.ParseBool(args[2])
		if err != nil || (args[2] != "true" && args[2] != "false") {
			return fmt.Sprintf("Error: status %q is neither true nor false\n", args[2]), 1
		}
		err = a.Update(args[1], func(app *App) error { app.Enabled = enabled; return nil })
		if errors.Is(err, ErrNoApp) {
			return "Error: not_found\n", 1
		} else if err != nil {
			return "Error: " + err.Error() + "\n", 1
		}
		return "update successfully.\n", 0
	case len(args) == 2 && args[0] == "delete":
		err := a.Delete(args[1])
		if errors.Is(err, ErrNoApp) {
			return "Error: app not found\n", 1
		} else if err != nil {
			return "Error: " + err.Error() + "\n", 1
		}
		return "ok\n", 0
	}
	return strings.Join(ctl.Usage["mgmt"], "\n") + "\n", 1
}

// ctlExpired prints an expiry as EMQX's ~p does: undefined, or Unix seconds.
func ctlExpired(app *App) string {
	if app.Expires.IsZero() {
		return "undefined"
	}
	return strconv.FormatInt(app.Expires.Unix(), 10)
}
