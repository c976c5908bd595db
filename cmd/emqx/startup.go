package main

import (
	"log/slog"

	"github.com/emqgo/emqgo/cmd/internal/wire"
	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/engine/config"
)

// notServed is what the node says of a port its configuration names but this build does not
// serve yet.
const notServed = "not available in this build yet"

// unserved lists the keys and addresses of the listeners the configuration names that this
// build does not serve: skipped MQTT listeners (from wire.FromConfig). management.listener.http
// and .https are served (httpapi.go); the dashboard's ports are its plugin's.
func unserved(cfg *config.Config, skipped []string) [][2]string {
	var out [][2]string
	for _, k := range skipped {
		for _, l := range cfg.Listeners {
			if "listener."+string(l.Kind)+"."+l.Name == k {
				out = append(out, [2]string{k, l.Bind})
			}
		}
	}
	return out
}

// logStartupNotices logs what the configuration asks for that this node does not do: one
// warning line listing the keys accepted without effect, one warning line per port not
// served, and the other notices (ignored EMQX_ variables) at info level.
func logStartupNotices(log *slog.Logger, cfg *config.Config, notices []config.Notice, skipped []string) {
	for _, nt := range notices {
		if nt.Owner == "" {
			log.Info(nt.String())
		}
	}
	if sum := config.NoEffectSummary(notices); sum != "" {
		log.Warn("configuration keys accepted without effect: " + sum)
	}
	for _, u := range unserved(cfg, skipped) {
		msg := u[0] + " " + notServed
		for i := range cfg.Listeners {
			if l := &cfg.Listeners[i]; "listener."+string(l.Kind)+"."+l.Name == u[0] {
				if why := wire.MissingDemoCerts(cfg, l); why != "" {
					msg = why
				}
			}
		}
		log.Warn(msg, "key", u[0], "address", u[1])
	}
}

// logPaths logs, on one info line, where the node takes its files from once relative paths
// are resolved against its home.
func logPaths(log *slog.Logger, confPath string, cfg *config.Config, rules *acl.Rules) {
	if confPath == "" {
		confPath = config.EmbeddedName
	}
	aclFile := cfg.ACL.File
	if rules != nil && rules.Name() != aclFile {
		aclFile += " (not found: the embedded default rules apply)"
	}
	log.Info("paths", "home", cfg.Node.Home, "config", confPath, "data_dir", cfg.Node.DataDir,
		"log_dir", cfg.Log.Dir, "acl_file", aclFile, "persistence_dir", cfg.Persistence.Dir)
}
