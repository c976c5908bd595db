package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// The suite's bridge rows: publishers send to the bridging broker, which forwards bench/# over
// one MQTT bridge connection to a second Mosquitto (the remote), where the subscribers are.
// The bridging broker is ours (plugin emqx_bridge_mqtt, memory-only queue, MQTT 3.1.1) or
// Mosquitto with a `connection` section (its own bridge, MQTT 3.1.1, the topic's QoS out);
// the remote is the same Mosquitto build in both runs. CPU per message is the bridging
// broker's. Mosquitto's bridging instance gets max_queued_messages 0 (no limit), so that its
// bridge does not drop QoS 1 messages beyond Debian's default of 1000 queued: both bridges
// are measured losing nothing.

// bridgeCases are the bridge rows (suiteCases appends them).
func bridgeCases() []suiteCase {
	thr := []string{"recv_rate", "broker_us", "p99", "loss"}
	return []suiteCase{
		{Name: "bridge-q0", Title: "bridge: p2p 8→8 through one bridge connection to Mosquitto, QoS 0, 64 B", Scenario: "p2p", Metrics: thr, Bridge: true,
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS = 8, 8, 0 }},
		{Name: "bridge-q1", Title: "bridge: p2p 8→8 through one bridge connection to Mosquitto, QoS 1, 64 B", Scenario: "p2p", Metrics: thr, Bridge: true,
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS, o.SubQoS = 8, 8, 1, 1 }},
	}
}

// bridges says whether broker kind k can run the bridge rows.
func bridges(kind string) bool { return kind == "ours" || kind == "mosquitto" }

// runBridge starts the remote Mosquitto, then broker k bridging to it, and runs o with the
// publishers on k and the subscribers on the remote.
func runBridge(ctx context.Context, k brokerKind, mosquittoBin string, o Options, work string) (*Result, error) {
	if mosquittoBin == "" || !fileExists(mosquittoBin) {
		return nil, fmt.Errorf("the bridge rows need Mosquitto as the remote (make bench-deps)")
	}
	remote, err := startBroker(ctx, brokerKind{Name: "mosquitto", Bin: mosquittoBin, Conf: "max_queued_messages 0\n"}, work, nil)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	defer remote.stop()
	qos := o.QoS
	switch k.Name {
	case "ours":
		k.Env = append(k.Env,
			"EMQX_LOADED_PLUGINS=emqx_bridge_mqtt",
			"EMQX_BRIDGE__MQTT__AWS__ADDRESS="+remote.addr,
			"EMQX_BRIDGE__MQTT__AWS__START_TYPE=auto",
			"EMQX_BRIDGE__MQTT__AWS__FORWARDS=bench/#",
			"EMQX_BRIDGE__MQTT__AWS__MOUNTPOINT=",
			"EMQX_BRIDGE__MQTT__AWS__QUEUE__REPLAYQ_DIR=",
			"EMQX_BRIDGE__MQTT__AWS__RECONNECT_INTERVAL=1s",
		)
		http, err := freePort()
		if err != nil {
			return nil, err
		}
		k.Env = append(k.Env, fmt.Sprintf("EMQX_MANAGEMENT__LISTENER__HTTP=127.0.0.1:%d", http))
	case "mosquitto":
		k.Conf += fmt.Sprintf("max_queued_messages 0\nconnection bench_bridge\naddress %s\ntopic bench/# out %d\ncleansession true\nbridge_protocol_version mqttv311\nrestart_timeout 1\n", remote.addr, qos)
	default:
		return nil, fmt.Errorf("%s has no MQTT bridge", k.Name)
	}
	b, err := startBroker(ctx, k, work, nil)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	if err := waitBridged(ctx, remote.addr, b.addr); err != nil {
		return nil, fmt.Errorf("%s: %w", k.Name, err)
	}
	o.Broker, o.SubBroker, o.BrokerPID, o.MetricsCmd = b.addr, remote.addr, b.pid(), ""
	if err := o.validate(); err != nil {
		return nil, err
	}
	res, err := newRunner(o, nil).run(ctx)
	if err != nil {
		return nil, err
	}
	res.Broker = k.Name
	return res, nil
}

// waitBridged waits until a message published on the bridging broker reaches the remote,
// which proves the bridge connected (at most 20 s). It uses mosquitto_sub and mosquitto_pub:
// one subscriber on the remote, a QoS 1 message on the bridging broker every half second.
func waitBridged(ctx context.Context, remote, bridging string) error {
	host, port, _ := strings.Cut(remote, ":")
	bhost, bport, _ := strings.Cut(bridging, ":")
	sub := exec.CommandContext(ctx, "mosquitto_sub", "-h", host, "-p", port, "-t", "bench/ready", "-q", "1", "-C", "1", "-W", "20")
	var out strings.Builder
	sub.Stdout, sub.Stderr = &out, &out
	if err := sub.Start(); err != nil {
		return fmt.Errorf("mosquitto_sub: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- sub.Wait() }()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("the bridge did not carry a message to the remote within 20 s (mosquitto_sub: %v %s)", err, strings.TrimSpace(out.String()))
			}
			return nil
		case <-tick.C:
			exec.CommandContext(ctx, "mosquitto_pub", "-h", bhost, "-p", bport, "-t", "bench/ready", "-m", "x", "-q", "1").Run()
		}
	}
}
