package plugins

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// TestRedisPluginTypes: auth.redis.type = sentinel and cluster load with EMQX's keys (a list
// of addresses in auth.redis.server, the master's name in auth.redis.sentinel) and, with
// nothing listening, refuse the clients that need Redis with 0x03 like a single server; what
// a type cannot take is refused at load naming the key. engine/service/authredis's
// TestSentinel and TestCluster run them against real sentinels and a real cluster.
func TestRedisPluginTypes(t *testing.T) {
	down := "127.0.0.1:" + strconv.Itoa(freePort(t)) + ",127.0.0.1:" + strconv.Itoa(freePort(t))
	for _, typ := range []string{"sentinel", "cluster"} {
		t.Run(typ, func(t *testing.T) {
			n := startNode(t, true)
			e := testEnv(t, "EMQX_AUTH__REDIS__TYPE="+typ, "EMQX_AUTH__REDIS__SERVER="+down,
				"EMQX_AUTH__REDIS__SENTINEL=mymaster", "EMQX_AUTH__REDIS__QUERY_TIMEOUT=300ms")
			m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
			if err := m.Start("emqx_auth_redis"); err != nil {
				t.Fatal(err)
			}
			wantConnect(t, n, "u1", "someone", "pw", packets.ErrorRefusedServerUnavailable)
			wantConnect(t, n, "u2", "", "", nil)
		})
	}
	for _, c := range []struct{ env, want string }{
		{"EMQX_AUTH__REDIS__TYPE=sentinel", "auth.redis.sentinel: type sentinel needs the master's name"},
		{"EMQX_AUTH__REDIS__TYPE=cluster\nEMQX_AUTH__REDIS__DATABASE=2", "auth.redis.database: a Redis Cluster has only database 0"},
		{"EMQX_AUTH__REDIS__SERVER=" + down, "auth.redis.server: type single takes one host:port"},
	} {
		n := startNode(t, true)
		e := testEnv(t, strings.Split(c.env, "\n")...)
		err := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog()).Load("emqx_auth_redis")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", c.env, err, c.want)
		}
	}
}
