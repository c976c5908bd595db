package depcheck

import (
	"strings"
	"testing"
)

// TestRulesCatchViolations feeds check imports that each rule forbids, and imports the map
// allows, so that a rule that stopped firing (or started firing on a good import) is noticed.
func TestRulesCatchViolations(t *testing.T) {
	f := func(rel string, ours, external []string, test bool, wantRule string) {
		t.Helper()
		vs := check(rel, ours, external, test)
		if wantRule == "" {
			if len(vs) != 0 {
				t.Errorf("%s %v %v: unexpected %v", rel, ours, external, vs)
			}
			return
		}
		if len(vs) != 1 || !strings.Contains(vs[0].rule, wantRule) {
			t.Errorf("%s %v %v: got %v, want one violation of %q", rel, ours, external, vs, wantRule)
		}
	}
	// Allowed.
	f("codec", nil, nil, false, "")
	f("sessions", []string{"codec", "trie", "sessions/kvlog"}, []string{"github.com/cespare/xxhash/v2"}, false, "")
	f("engine", []string{"codec", "trie", "sessions", "sessions/kvlog", "engine/acl", "engine/transport", "engine/logging"}, []string{gnet + "/v2"}, false, "")
	f("engine", nil, []string{"example.com/any"}, true, "")
	f("engine/transport/ws", []string{"codec", "engine/transport"}, []string{gnet + "/v2"}, false, "")
	f("engine/config", []string{"codec", "engine/rewrite", "etc"}, nil, false, "")
	f("engine/service/httpapi", []string{"engine", "engine/acl", "engine/service/httpapi/openapi"}, nil, false, "")
	f("engine/service/auth/redis", []string{"engine", "engine/service/auth"}, nil, false, "")
	f("cmd/emqx", []string{"cmd/internal/wire", "engine", "engine/config", "engine/service/sys"}, []string{kong}, false, "")
	f("bench/emqx_bench", []string{"codec"}, []string{gnet + "/v2"}, false, "")
	f("tools/kvlogctl", []string{"sessions/kvlog"}, nil, false, "")
	f("engine/service/cluster", []string{"engine", testPorts}, nil, true, "")

	// Forbidden.
	f("engine/newthing", nil, nil, false, "every package has a rule")
	f("lib", nil, nil, false, "every package has a rule")
	f("codec", []string{"trie"}, nil, false, "codec (foundation)")
	f("codec", nil, []string{"github.com/valyala/bytebufferpool"}, false, "codec (foundation)")
	f("trie", []string{"codec"}, nil, false, "trie (foundation)")
	f("sessions/kvlog", []string{"codec"}, nil, false, "sessions/kvlog (foundation)")
	f("sessions", []string{"engine"}, nil, false, "sessions (foundation)")
	f("sessions", []string{"engine/acl"}, nil, true, "sessions (foundation)")
	f("engine/acl", []string{"engine"}, nil, false, "libraries never import engine")
	f("engine/config", []string{"engine/service/sys"}, nil, false, "libraries never import engine")
	f("engine", []string{"engine/config"}, nil, false, "engine imports only")
	f("engine", []string{"engine/config"}, nil, true, "engine imports only")
	f("engine", []string{"engine/ctl"}, nil, false, "engine imports only")
	f("engine", []string{"etc"}, nil, false, "engine imports only")
	f("engine", []string{"engine/service/httpapi"}, nil, false, "engine never imports a side service")
	f("engine/service/dashboard", []string{"engine/service/httpapi"}, nil, false, "services never import each other")
	f("engine/service/dashboard", []string{"engine/service/httpapi/internal/x"}, nil, false, "services never import each other")
	f("engine/acl", nil, []string{gnet + "/v2"}, false, "only engine and engine/transport import gnet")
	f("engine/service/sys", nil, []string{gnet + "/v2/pkg/pool/goroutine"}, false, "only engine and engine/transport import gnet")
	f("tools/kvlogctl", nil, []string{gnet + "/v2"}, false, "only engine and engine/transport import gnet")
	f("engine", nil, []string{kong}, false, "only cmd imports kong")
	f("bench/emqx_bench", nil, []string{kong}, false, "only cmd imports kong")
	f("engine", []string{"bench/emqx_bench"}, nil, true, "bench and tools are imported by nothing")
	f("engine/service/cluster", []string{testPorts}, nil, false, "bench and tools are imported by nothing")
	f("cmd/emqx", []string{"tools/depcheck"}, nil, false, "bench and tools are imported by nothing")
	f("engine/service/httpapi", []string{"cmd/internal/wire"}, nil, false, "nothing imports cmd")
}
