package plugins

import (
	"strings"
	"testing"

	"github.com/emqgo/emqgo/engine/transport/tlspsk"
)

// TestBridgePSKConfig: with ssl = on, psk_ciphers and psk_identity give the bridge a TLS-PSK
// client (unimplemented suites skipped); psk_ciphers without psk_identity, or with no
// implemented suite, is an error naming the key; with ssl = off there is no PSK.
func TestBridgePSKConfig(t *testing.T) {
	on := strings.Replace(guideBridge, "ssl = off", "ssl = on", 1)
	e := bridgeEnvFor(t, on+"bridge.mqtt.aws.psk_ciphers = PSK-AES128-CBC-SHA,PSK-3DES-EDE-CBC-SHA,PSK-AES256-GCM-SHA384\nbridge.mqtt.aws.psk_identity = bridge1\n")
	cfgs, c := bridgeConfigs(e)
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	want, _, _ := tlspsk.CipherSuites([]string{"PSK-AES128-CBC-SHA", "PSK-AES256-GCM-SHA384"})
	p := cfgs[0].PSK
	if p == nil || p.Identity != "bridge1" || len(p.Suites) != 2 || p.Suites[0] != want[0] || p.Suites[1] != want[1] {
		t.Fatalf("PSK config %+v, want identity bridge1 and suites %v", p, want)
	}

	for conf, key := range map[string]string{
		on + "bridge.mqtt.aws.psk_ciphers = PSK-AES128-CBC-SHA\n":                                  "bridge.mqtt.aws.psk_identity",
		on + "bridge.mqtt.aws.psk_ciphers = PSK-RC4-SHA\nbridge.mqtt.aws.psk_identity = bridge1\n": "bridge.mqtt.aws.psk_ciphers",
		on + "bridge.mqtt.aws.psk_ciphers = NOT-A-SUITE\nbridge.mqtt.aws.psk_identity = bridge1\n": "bridge.mqtt.aws.psk_ciphers",
	} {
		_, c := bridgeConfigs(bridgeEnvFor(t, conf))
		if err := c.Err(); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v, want one naming %s", err, key)
		}
	}

	cfgs, c = bridgeConfigs(bridgeEnvFor(t, guideBridge+"bridge.mqtt.aws.psk_ciphers = PSK-AES128-CBC-SHA\nbridge.mqtt.aws.psk_identity = bridge1\n"))
	if c.Err() != nil || cfgs[0].PSK != nil || cfgs[0].TLS != nil {
		t.Fatalf("ssl = off: %v PSK %+v", c.Err(), cfgs[0].PSK)
	}
}
