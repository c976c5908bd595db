package wire

import (
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/config"
)

// The zone's publish_limit and rate_limit.* and the listener's rate_limit (both forms) reach
// the engine; the shipped configuration sets none.
func TestFromConfigRateLimits(t *testing.T) {
	env := []string{
		"EMQX_ZONE__EXTERNAL__PUBLISH_LIMIT=100,10s",
		"EMQX_ZONE__EXTERNAL__RATE_LIMIT__CONN_MESSAGES_IN=50,1s",
		"EMQX_ZONE__EXTERNAL__RATE_LIMIT__CONN_BYTES_IN=100KB,10s",
		"EMQX_LISTENER__TCP__EXTERNAL__RATE_LIMIT=1024,4096",
		"EMQX_LISTENER__WS__EXTERNAL__RATE_LIMIT=1MB,1s",
	}
	c, _, err := config.Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]engine.Rate{
		"tcp:external": {Limit: 1024, Per: time.Second, Burst: 4096},
		"ws:external":  {Limit: 1 << 20, Per: time.Second},
		"tcp:internal": {},
	}
	seen := 0
	for _, l := range cfg.Listeners {
		w, ok := want[l.Kind+":"+l.Name]
		if !ok {
			continue
		}
		seen++
		if l.RateLimit != w {
			t.Errorf("%s:%s rate_limit = %+v, want %+v", l.Kind, l.Name, l.RateLimit, w)
		}
		z := l.Zone
		if z.Name != "external" {
			if z.PublishLimit != (engine.Rate{}) || z.ConnMessagesIn != (engine.Rate{}) || z.ConnBytesIn != (engine.Rate{}) {
				t.Errorf("zone %s has limits %+v %+v %+v, want none", z.Name, z.PublishLimit, z.ConnMessagesIn, z.ConnBytesIn)
			}
			continue
		}
		if w := (engine.Rate{Limit: 100, Per: 10 * time.Second}); z.PublishLimit != w {
			t.Errorf("publish_limit = %+v, want %+v", z.PublishLimit, w)
		}
		if w := (engine.Rate{Limit: 50, Per: time.Second}); z.ConnMessagesIn != w {
			t.Errorf("rate_limit.conn_messages_in = %+v, want %+v", z.ConnMessagesIn, w)
		}
		if w := (engine.Rate{Limit: 100 << 10, Per: 10 * time.Second}); z.ConnBytesIn != w {
			t.Errorf("rate_limit.conn_bytes_in = %+v, want %+v", z.ConnBytesIn, w)
		}
	}
	if seen != len(want) {
		t.Fatalf("found %d of the listeners %v", seen, want)
	}
}
