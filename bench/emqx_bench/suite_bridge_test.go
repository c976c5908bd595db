package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestBridgeCases checks the bridge rows' wiring: each figure is one metricValue knows, each
// remote is one startRemote starts, and both remotes have a QoS 0 and a QoS 1 row.
func TestBridgeCases(t *testing.T) {
	seen := map[string]bool{}
	perRemote := map[string][]byte{}
	for _, c := range bridgeCases() {
		if seen[c.Name] || !c.Bridge {
			t.Errorf("%s: duplicate or not a bridge case", c.Name)
		}
		seen[c.Name] = true
		for _, m := range c.Metrics {
			if _, unit, _ := metricValue(m, &Result{}); unit == m {
				t.Errorf("%s: figure %q unknown to metricValue", c.Name, m)
			}
		}
		switch c.BridgeRemote {
		case "", "ours":
		default:
			t.Errorf("%s: remote %q", c.Name, c.BridgeRemote)
		}
		o := defaultOptions(c.Scenario)
		c.apply(&o)
		perRemote[c.BridgeRemote] = append(perRemote[c.BridgeRemote], o.QoS)
	}
	for _, r := range []string{"", "ours"} {
		if got := perRemote[r]; len(got) != 2 || got[0] != 0 || got[1] != 1 {
			t.Errorf("remote %q: QoS of its rows %v, want [0 1]", r, got)
		}
	}
}

func TestStartRemoteRefuses(t *testing.T) {
	ctx := context.Background()
	if _, err := startRemote(ctx, "mochi", "/usr/sbin/mosquitto", "/nonexistent/emqx", t.TempDir()); err == nil || !strings.Contains(err.Error(), "unknown bridge remote") {
		t.Errorf("unknown remote: %v", err)
	}
	if _, err := startRemote(ctx, "ours", "", "/nonexistent/emqx", t.TempDir()); err == nil || !strings.Contains(err.Error(), "/nonexistent/emqx") {
		t.Errorf("ours without its binary: %v", err)
	}
}

func TestFillRemote(t *testing.T) {
	var r Result
	r.Seconds = 2
	r.fillRemote(totals{sent: 1000, recv: 4000}, procSample{ok: true, CPU: time.Second}, procSample{ok: true, CPU: 3 * time.Second})
	if r.RemoteCPU != 2 || r.RemoteCPUPerMsg != 500 {
		t.Errorf("remote CPU %v s, %v µs/msg; want 2 s, 500 µs/msg", r.RemoteCPU, r.RemoteCPUPerMsg)
	}
	if v, _, _ := metricValue("remote_core", &r); v != 100 {
		t.Errorf("remote_core %v, want 100 (%% of a core)", v)
	}
	var none Result
	none.fillRemote(totals{sent: 10}, procSample{}, procSample{ok: true})
	if none.RemoteCPU != 0 || none.RemoteCPUPerMsg != 0 {
		t.Errorf("without a first sample: %+v", none)
	}
}
