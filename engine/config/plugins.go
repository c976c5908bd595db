package config

import "strings"

// PluginKeyPrefixes are the key families of the plugins' own files (etc/plugins/<name>.conf,
// e.g. auth.user.password_hash of emqx_auth_username, psk.file.path of emqx_psk_file,
// dashboard.listener.http of emqx_dashboard, bridge.mqtt.<name>.address of emqx_bridge_mqtt).
// emqx.conf does not act on them (it accepts EMQX's bridge keys, without effect); the EMQX_
// variables that name them (EMQX_AUTH__USER__PASSWORD_HASH) are left to the plugin loader,
// which checks them against the plugin's keys when the plugin loads. Read-only.
var PluginKeyPrefixes = []string{"auth.", "psk.", "dashboard.", "bridge.mqtt."}

// IsPluginKey reports whether key belongs to a plugin's file rather than emqx.conf.
func IsPluginKey(key string) bool {
	for _, p := range PluginKeyPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}
