package plugins

import (
	"reflect"
	"strings"
	"testing"

	"github.com/emqgo/emqgo/engine/service/bridge"
)

// guideRPCBridge is the guide's RPC bridge example ("EMQ X Node RPC Bridge Configuration"),
// with the host the guide leaves blank filled in.
const guideRPCBridge = `
bridge.mqtt.aws.address = emqx2@192.168.1.2
bridge.mqtt.aws.forwards = sensor1/#,sensor2/#
bridge.mqtt.aws.mountpoint = bridge/emqx2/${node}/
`

func TestRPCBridgeConfigOfTheGuide(t *testing.T) {
	e := bridgeEnvFor(t, guideRPCBridge)
	e.Cookie, e.RPCPort = "secretcookie", 5369
	cfgs, c := bridgeConfigs(e)
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	b := cfgs[0]
	if b.Address != "192.168.1.2:5369" || !reflect.DeepEqual(b.RPC, &bridge.RPC{Node: "emqx2@192.168.1.2", Cookie: "secretcookie", From: "emqx1@127.0.0.1"}) {
		t.Fatalf("address %q rpc %+v", b.Address, b.RPC)
	}
	if strings.Join(b.Forwards, ",") != "sensor1/#,sensor2/#" || b.Mountpoint != "bridge/emqx2/emqx1@127.0.0.1/" || !b.AutoStart {
		t.Fatalf("forwards %v mountpoint %q autostart %v", b.Forwards, b.Mountpoint, b.AutoStart)
	}

	// A port in the node name wins over rpc.tcp_client_port; subscriptions are dropped.
	e = bridgeEnvFor(t, guideRPCBridge+"bridge.mqtt.aws.subscription.1.topic = cmd/1\n", "EMQX_BRIDGE__MQTT__AWS__ADDRESS=emqx2@[::1]:6000")
	e.RPCPort = 5369
	cfgs, c = bridgeConfigs(e)
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	if cfgs[0].Address != "[::1]:6000" || cfgs[0].RPC.Node != "emqx2@[::1]:6000" || len(cfgs[0].Subscriptions) != 0 {
		t.Fatalf("address %q node %q subscriptions %v", cfgs[0].Address, cfgs[0].RPC.Node, cfgs[0].Subscriptions)
	}

	// Not available: TLS, and a node name without host.
	for env, key := range map[string]string{"EMQX_BRIDGE__MQTT__AWS__SSL=on": "bridge.mqtt.aws.ssl", "EMQX_BRIDGE__MQTT__AWS__ADDRESS=emqx2@": "bridge.mqtt.aws.address"} {
		e = bridgeEnvFor(t, guideRPCBridge, env)
		e.RPCPort = 5369
		if _, c := bridgeConfigs(e); c.Err() == nil || !strings.Contains(c.Err().Error(), key) {
			t.Errorf("%s: %v", env, c.Err())
		}
	}
}
