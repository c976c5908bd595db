package plugins

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/redis/go-redis/v9"

	"github.com/emqgo/emqgo/tools/freeport"
)

// freePort returns a free loopback port below the ephemeral range (see tools/freeport).
func freePort(t *testing.T) int {
	return freeport.Must(t)
}

// TestRedisPluginEmbeddedDefaults: emqx_auth_redis loaded with its embedded file and only
// the server changed by EMQX_AUTH__REDIS__SERVER, against a real redis-server filled as EMQX's
// documentation shows (HSET mqtt_user:<name> password ..., HSET mqtt_acl:<name> topic 1|2|3).
// The engine/service/authredis tests cover the plugin's behaviour in depth.
func TestRedisPluginEmbeddedDefaults(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if testing.Short() {
			t.Skip("redis-server not found: run `make test-deps`")
		}
		t.Fatal("redis-server not found (Debian package redis-server): run `make test-deps`")
	}
	port := strconv.Itoa(freePort(t))
	srv := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	r := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port})
	defer r.Close()
	deadline := time.Now().Add(10 * time.Second)
	for r.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.HSet(context.Background(), "mqtt_user:rd", "password", "public").Err(); err != nil {
		t.Fatal(err)
	}

	n := startNode(t, false)
	e := testEnv(t, "EMQX_AUTH__REDIS__SERVER="+port) // EMQX's "Port" form
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	if err := m.Start("emqx_auth_redis"); err != nil {
		t.Fatal(err)
	}
	wantConnect(t, n, "r1", "rd", "public", nil)
	wantConnect(t, n, "r2", "rd", "wrong", errBadCreds)
	wantConnect(t, n, "r3", "nobody", "public", errBadCreds) // ignored, anonymous refused
	out, _ := m.Commands()["plugins"]([]string{"list"})
	if !strings.Contains(out, "Plugin(emqx_auth_redis, version=") || !strings.Contains(out, "description=Authentication/ACL with Redis, active=true)") {
		t.Errorf("plugins list:\n%s", out)
	}
	inst := m.Instance("emqx_auth_redis")
	if len(inst.Authenticators) != 1 || len(inst.Authorizers) != 1 {
		t.Errorf("links: %d authenticators, %d authorizers, want 1 and 1", len(inst.Authenticators), len(inst.Authorizers))
	}
}

// TestRedisPluginUnreachable: a node starts with the plugin while Redis is down; MQTT 3.1.1
// clients that need it get CONNACK 0x03 (server unavailable), those that do not are unaffected.
func TestRedisPluginUnreachable(t *testing.T) {
	n := startNode(t, true)
	e := testEnv(t, "EMQX_AUTH__REDIS__SERVER=127.0.0.1:"+strconv.Itoa(freePort(t)))
	writePluginConf(t, e, "emqx_auth_redis", "auth.redis.query_timeout = 300ms\nauth.redis.auth_cmd = HMGET mqtt_user:%u password\n")
	m := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog())
	if err := m.Start("emqx_auth_redis"); err != nil {
		t.Fatal(err)
	}
	wantConnect(t, n, "u1", "someone", "pw", packets.ErrorRefusedServerUnavailable)
	wantConnect(t, n, "u2", "", "", nil)
	if inst := m.Instance("emqx_auth_redis"); len(inst.Authorizers) != 0 {
		t.Errorf("acl_cmd unset in the file, yet %d authorizers", len(inst.Authorizers))
	}
}

// TestRedisPluginConfErrors: what the plugin refuses, naming file, line and key.
func TestRedisPluginConfErrors(t *testing.T) {
	n := startNode(t, true)
	e := testEnv(t, "EMQX_AUTH__REDIS__POOL=0")
	writePluginConf(t, e, "emqx_auth_redis", "auth.redis.type = sentinel\nauth.redis.query_timeout = soon\nauth.redis.password_hash = rot13\nauth.redis.database = -1\n")
	err := New(n, e, filepath.Join(e.DataDir, "loaded_plugins"), quietLog()).Load("emqx_auth_redis")
	if err == nil {
		t.Fatal("a broken configuration loaded")
	}
	file := filepath.Join(e.EtcDir, "emqx_auth_redis.conf")
	for _, want := range []string{
		"auth.redis.sentinel: type sentinel needs the master's name",
		file + ":2: auth.redis.query_timeout: expected a duration",
		file + ":3: auth.redis.password_hash: ",
		file + ":4: auth.redis.database: expected a whole number, 0 or more",
		"EMQX_AUTH__REDIS__POOL: auth.redis.pool: expected a whole number greater than 0",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
