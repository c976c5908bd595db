package wire

import (
	"reflect"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/engine/rewrite"
)

// The shipped emqx.conf turns the ACL cache on (32 decisions, 1 minute); EMQX_ENABLE_ACL_CACHE
// =off turns it off.
func TestFromConfigACLCache(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		size int
		ttl  time.Duration
	}{
		{nil, 32, time.Minute},
		{[]string{"EMQX_ACL_CACHE_MAX_SIZE=8", "EMQX_ACL_CACHE_TTL=5s"}, 8, 5 * time.Second},
		{[]string{"EMQX_ENABLE_ACL_CACHE=off"}, 0, 0},
	} {
		c, _, err := config.Load("", tc.env)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := FromConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.ACLCacheSize != tc.size || cfg.ACLCacheTTL != tc.ttl {
			t.Errorf("env %v: cache %d for %v, want %d for %v", tc.env, cfg.ACLCacheSize, cfg.ACLCacheTTL, tc.size, tc.ttl)
		}
	}
}

// module.subscription and module.rewrite reach the engine's Config: the subscriptions with
// their options, and the rules split into publish (rule.N, then pub.rule.N) and subscribe
// (rule.N, then sub.rule.N) lists. Off, the keys set nothing.
func TestFromConfigModules(t *testing.T) {
	env := []string{
		"EMQX_MODULE__SUBSCRIPTION__1__TOPIC=$client/%c",
		"EMQX_MODULE__SUBSCRIPTION__1__QOS=2",
		"EMQX_MODULE__SUBSCRIPTION__1__NL=1",
		"EMQX_MODULE__SUBSCRIPTION__1__RH=1",
		"EMQX_MODULE__SUBSCRIPTION__2__TOPIC=$user/%u",
		"EMQX_MODULE__SUBSCRIPTION__2__RAP=1",
		"EMQX_MODULE__REWRITE__RULE__1=a/# ^a/(.*)$ both/$1",
		"EMQX_MODULE__REWRITE__PUB__RULE__1=# ^(.*)$ pub/$1",
		"EMQX_MODULE__REWRITE__SUB__RULE__1=# ^(.*)$ sub/$1",
	}
	load := func(env []string) *engine.Config {
		t.Helper()
		c, _, err := config.Load("", env)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := FromConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	off := load(env)
	if off.AutoSubscriptions != nil || off.RewritePublish != nil || off.RewriteSubscribe != nil {
		t.Fatalf("modules off: %+v %v %v", off.AutoSubscriptions, off.RewritePublish, off.RewriteSubscribe)
	}
	on := load(append(env, "EMQX_MODULE__SUBSCRIPTION=on", "EMQX_MODULE__REWRITE=on"))
	want := []engine.AutoSubscription{
		{Topic: "$client/%c", QoS: 2, NoLocal: true, RetainHandling: 1},
		{Topic: "$user/%u", RetainAsPublished: true},
	}
	if !reflect.DeepEqual(on.AutoSubscriptions, want) {
		t.Fatalf("subscriptions %+v, want %+v", on.AutoSubscriptions, want)
	}
	f := func(rs *rewrite.Rules, topic, want string) {
		t.Helper()
		if got, _ := rs.Apply(nil, []byte(topic)); string(got) != want {
			t.Fatalf("%q → %q, want %q", topic, got, want)
		}
	}
	f(on.RewritePublish, "a/1", "both/1")
	f(on.RewritePublish, "b/1", "pub/b/1")
	f(on.RewriteSubscribe, "a/1", "both/1")
	f(on.RewriteSubscribe, "b/1", "sub/b/1")
}
