package config

import (
	"strings"
	"testing"
)

// TestDashboardKeysBelongToThePlugin: dashboard.* in emqx.conf is refused with the file it
// belongs in (etc/plugins/emqx_dashboard.conf), while EMQX_DASHBOARD__* variables are left to
// the plugin's loader.
func TestDashboardKeysBelongToThePlugin(t *testing.T) {
	_, _, err := Parse("emqx.conf", []byte("dashboard.listener.http = 18083\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "emqx.conf:1") || !strings.Contains(err.Error(), "emqx_dashboard.conf") {
		t.Fatalf("dashboard key in emqx.conf: %v", err)
	}
	if _, notes, err := Parse("emqx.conf", nil, []string{"EMQX_DASHBOARD__LISTENER__HTTP=127.0.0.1:1"}); err != nil || len(notes) != 0 {
		t.Fatalf("EMQX_DASHBOARD__LISTENER__HTTP: %v %v", err, notes)
	}
}
