package engine

import (
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/config"
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
