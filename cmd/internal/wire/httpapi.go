package wire

import (
	"log/slog"

	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/service/httpapi"
)

// HTTPAPI returns the options of the HTTP API (engine/service/httpapi) from the management.*
// keys: management.listener.http with its max_clients, send_timeout, inet6 and ipv6_v6only, and
// the default application (management.default_application.id/secret). ok is false when
// management.listener.http and management.listener.https are both unset: no API then. The
// HTTPS listener's options come from HTTPSAPI.
func HTTPAPI(c *config.Config, log *slog.Logger) (opts httpapi.Options, ok bool) {
	l := &c.Management.HTTP
	if l.Bind == "" && (c.Management.HTTPS == nil || c.Management.HTTPS.Bind == "") {
		return opts, false
	}
	var apps []httpapi.App
	if def := DefaultApp(c); def.ID != "" {
		apps = append(apps, def)
	}
	return httpapi.Options{
		Addr:         l.Bind,
		Network:      httpNetwork(l.Inet6, l.IPv6Only),
		MaxClients:   l.MaxClients,
		WriteTimeout: l.SendTimeout,
		Apps:         httpapi.NewApps(apps...),
		Log:          log,
	}, true
}

// DefaultApp is the management application of management.default_application.id/secret
// (its ID is empty when the id is unset): always accepted by the HTTP API.
func DefaultApp(c *config.Config) httpapi.App {
	if c.Management.AppID == "" {
		return httpapi.App{}
	}
	return httpapi.App{ID: c.Management.AppID, Secret: c.Management.AppSecret, Name: "Default",
		Desc: "default application (management.default_application)", Enabled: true, Default: true}
}

// httpNetwork is the net.Listen network of an HTTP listener: IPv4 unless inet6; with inet6 a
// wildcard address accepts IPv4 too unless ipv6_v6only (Go sets IPV6_V6ONLY for "tcp6").
func httpNetwork(inet6, v6only bool) string {
	switch {
	case !inet6:
		return "tcp4"
	case v6only:
		return "tcp6"
	}
	return "tcp"
}
