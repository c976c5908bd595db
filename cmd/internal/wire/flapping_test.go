package wire

import (
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// TestZoneFlappingKeys: EMQX 3.2's zone.<z>.flapping_threshold and
// flapping_banned_expiry_interval replace flapping_detect_policy's threshold, window and ban
// time for their zone; another zone keeps the global policy.
func TestZoneFlappingKeys(t *testing.T) {
	n := startConf(t, `
flapping_detect_policy = 30, 1m, 5m
zone.strict.enable_flapping_detect = on
zone.strict.flapping_threshold = 2, 1m
zone.strict.flapping_banned_expiry_interval = 1h
zone.loose.enable_flapping_detect = on
listener.tcp.strict = 127.0.0.1:0
listener.tcp.strict.zone = strict
listener.tcp.loose = 127.0.0.1:0
listener.tcp.loose.zone = loose
`)
	anonymous := func(*codec.Connect) {}
	f := func(listener, id string, want codec.ReasonCode) {
		t.Helper()
		c, ack := connect(t, n.Addr(listener), codec.V5, id, anonymous)
		c.Close()
		if ack.Code != want {
			t.Errorf("%s on %s: CONNACK %v, want %v", id, listener, ack.Code, want)
		}
	}
	f("strict", "flap-s", codec.Success)
	f("strict", "flap-s", codec.Success)
	f("strict", "flap-s", codec.Banned) // third connect within a minute: past 2
	for i := 0; i < 5; i++ {
		f("loose", "flap-l", codec.Success) // 30 allowed by the global policy
	}
	bans := n.Bans()
	if len(bans) != 1 || bans[0].Value != "flap-s" || bans[0].Until.Sub(bans[0].At) != time.Hour {
		t.Errorf("bans %+v, want flap-s banned for 1h", bans)
	}
}
