package plugins

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/service/bridge"
	"github.com/emqgo/emqgo/engine/transport/certgen"
)

// guideBridge is the MQTT bridge example of the user guide ("EMQ X Node MQTT Bridge
// Configuration" and "EMQ X Bridge Cache Configuration"), with the address the guide leaves
// blank filled in.
const guideBridge = `
bridge.mqtt.aws.address = 127.0.0.1:1883
bridge.mqtt.aws.proto_ver = mqttv4
bridge.mqtt.aws.client_id = bridge_emq
bridge.mqtt.aws.clean_start = true
bridge.mqtt.aws.username = user
bridge.mqtt.aws.password = passwd
bridge.mqtt.aws.ssl = off
bridge.mqtt.aws.cacertfile = etc/certs/cacert.pem
bridge.mqtt.aws.certfile = etc/certs/client-cert.pem
bridge.mqtt.aws.keyfile = etc/certs/client-key.pem
bridge.mqtt.aws.ciphers = ECDHE-ECDSA-AES256-GCM-SHA384,ECDHE-RSA-AES256-GCM-SHA384
## bridge.mqtt.aws.psk_ciphers = PSK-AES128-CBC-SHA,PSK-AES256-CBC-SHA,PSK-3DES-EDE-CBC-SHA,PSK-RC4-SHA
bridge.mqtt.aws.keepalive = 60s
bridge.mqtt.aws.tls_versions = tlsv1.2,tlsv1.1,tlsv1
bridge.mqtt.aws.forwards = sensor1/#,sensor2/#
bridge.mqtt.aws.mountpoint = bridge/emqx2/${node}/
bridge.mqtt.aws.subscription.1.topic = cmd/topic1
bridge.mqtt.aws.subscription.1.qos = 1
bridge.mqtt.aws.subscription.2.topic = cmd/topic2
bridge.mqtt.aws.subscription.2.qos = 1
bridge.mqtt.aws.reconnect_interval = 30s
bridge.mqtt.aws.retry_interval = 20s
bridge.mqtt.aws.max_inflight_batches = 32
bridge.mqtt.aws.queue.batch_count_limit = 32
bridge.mqtt.aws.queue.batch_bytes_limit = 1000MB
bridge.mqtt.aws.queue.replayq_dir = data/emqx_emqx2_bridge/
bridge.mqtt.aws.queue.replayq_seg_bytes = 10MB
`

func bridgeEnvFor(t *testing.T, conf string, environ ...string) *Env {
	t.Helper()
	home := t.TempDir()
	etc := filepath.Join(home, "etc", "plugins")
	os.MkdirAll(etc, 0o755)
	if err := os.WriteFile(filepath.Join(etc, bridge.Name+".conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return &Env{Home: home, EtcDir: etc, DataDir: filepath.Join(home, "data"), Environ: environ, NodeName: "emqx1@127.0.0.1", Log: quietLog()}
}

func TestBridgeConfigOfTheGuide(t *testing.T) {
	e := bridgeEnvFor(t, guideBridge)
	cfgs, c := bridgeConfigs(e)
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 1 {
		t.Fatalf("%d bridges, want 1", len(cfgs))
	}
	b := cfgs[0]
	want := bridge.Config{
		Name: "aws", Address: "127.0.0.1:1883", Version: codec.V311, BridgeMode: true, ClientID: "bridge_emq",
		Username: "user", Password: "passwd", CleanStart: true, KeepAlive: time.Minute,
		Mountpoint: "bridge/emqx2/emqx1@127.0.0.1/", AutoStart: true,
		ReconnectInterval: 30 * time.Second, RetryInterval: 20 * time.Second, MaxInflightBatches: 32,
		BatchCount: 32, BatchBytes: 1000 << 20, QueueDir: filepath.Join(e.Home, "data/emqx_emqx2_bridge"),
		SegmentBytes: 10 << 20, MaxQueueBytes: 1 << 30, BacklogAlarm: 5 * time.Minute,
	}
	got := b
	got.Forwards, got.Subscriptions = nil, nil
	if got.QueueDir != want.QueueDir && got.QueueDir == want.QueueDir+"/" {
		got.QueueDir = want.QueueDir
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config:\n got %+v\nwant %+v", got, want)
	}
	if strings.Join(b.Forwards, ",") != "sensor1/#,sensor2/#" || len(b.Subscriptions) != 2 || b.Subscriptions[1] != (bridge.Subscription{Topic: "cmd/topic2", QoS: 1}) {
		t.Errorf("forwards %v subscriptions %v", b.Forwards, b.Subscriptions)
	}
}

func TestBridgeConfigErrorsAndOverrides(t *testing.T) {
	e := bridgeEnvFor(t, "bridge.mqtt.a.address = emqx2@host\nbridge.mqtt.a.proto_ver = mqttv9\nbridge.mqtt.a.forwards = a/#/b\nbridge.mqtt.a.nonsense = 1\n")
	_, c := bridgeConfigs(e)
	err := c.Err()
	if err == nil {
		t.Fatal("a bad configuration loaded")
	}
	for _, want := range []string{"bridge.mqtt.a.address", "bridge.mqtt.a.proto_ver", "bridge.mqtt.a.forwards", "bridge.mqtt.a.nonsense"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	e = bridgeEnvFor(t, guideBridge, "EMQX_BRIDGE__MQTT__AWS__PROTO_VER=mqttv5", "EMQX_BRIDGE__MQTT__AWS__START_TYPE=manual")
	cfgs, c := bridgeConfigs(e)
	if c.Err() != nil || cfgs[0].Version != codec.V5 || cfgs[0].AutoStart {
		t.Fatalf("EMQX_ overrides: %v %+v", c.Err(), cfgs)
	}
}

// TestBridgeTLSConfig: ssl = on reads the CA and the client pair, and maps the versions and
// OpenSSL cipher names.
func TestBridgeTLSConfig(t *testing.T) {
	set, err := certgen.Generate()
	if err != nil {
		t.Fatal(err)
	}
	e := bridgeEnvFor(t, strings.Replace(guideBridge, "ssl = off", "ssl = on", 1))
	if err := set.WriteDir(filepath.Join(e.Home, "etc", "certs")); err != nil {
		t.Fatal(err)
	}
	cfgs, c := bridgeConfigs(e)
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	tc := cfgs[0].TLS
	if tc == nil || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.MinVersion != 0x0301 || tc.MaxVersion != 0x0303 || len(tc.CipherSuites) != 2 || tc.ServerName != "127.0.0.1" {
		t.Fatalf("TLS config %+v", tc)
	}
}
