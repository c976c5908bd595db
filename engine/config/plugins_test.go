package config

import (
	"strings"
	"testing"
)

// TestPluginVariablesLeftToPlugins: EMQX_AUTH__* name keys of etc/plugins/*.conf, which the
// plugin loader checks; emqx.conf's loader neither fails on them nor reports them.
func TestPluginVariablesLeftToPlugins(t *testing.T) {
	_, notes, err := Load("", []string{"EMQX_AUTH__USER__PASSWORD_HASH=bcrypt", "EMQX_AUTH__JWT__SECRET=x"})
	if err != nil {
		t.Fatalf("plugin variables broke emqx.conf: %v", err)
	}
	for _, n := range notes {
		if strings.Contains(n.String(), "EMQX_AUTH__") {
			t.Errorf("notice about a plugin variable: %s", n)
		}
	}
	if _, _, err := Load("", []string{"EMQX_AUTHX__Y=1"}); err == nil {
		t.Error("EMQX_AUTHX__Y is no plugin key and should fail as an unknown key")
	}
}
