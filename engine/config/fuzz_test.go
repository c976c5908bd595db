package config

import (
	"testing"

	"github.com/emqgo/emqgo/etc"
)

// FuzzParse checks that no input makes the loader panic, and that a successful load always
// yields listeners whose zones exist.
func FuzzParse(f *testing.F) {
	f.Add([]byte(etc.EmqxConf), "EMQX_LOG__LEVEL=debug")
	f.Add([]byte("listener.tcp.a = 1883\nlistener.tcp.a.zone = z\nzone.z.mountpoint =\n"), "EMQX_ZONE__Z__IDLE_TIMEOUT=1s")
	f.Add([]byte("module.subscription.1.topic = t\nmodule.rewrite.rule.1 = a ^a$ b\n"), "")
	f.Add([]byte("log.info.file = x\nlistener.wss.w = 1\nlistener.wss.w.psk_ciphers = A\n"), "EMQX_X=1")
	f.Fuzz(func(t *testing.T, data []byte, env string) {
		c, _, err := Parse("fuzz.conf", data, []string{env})
		if err != nil {
			return
		}
		for i := range c.Listeners {
			l := &c.Listeners[i]
			if l.Zone != "" && c.Zones[l.Zone] == nil {
				t.Fatalf("listener %s.%s has missing zone %q", l.Kind, l.Name, l.Zone)
			}
		}
	})
}
