package httpapi

import (
	"encoding/json"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

type fakeBridges []Bridge

func (f fakeBridges) Bridges() []Bridge { return f }

// TestBridges: /api/v4/bridges lists the bridges of the source, and /metrics has one sample
// per bridge of each bridge family, labelled with its name, and still parses.
func TestBridges(t *testing.T) {
	src := fakeBridges{
		{Name: "aws", Status: "connected", Queued: 3, QueuedBytes: 300, OldestAge: 1.5, Sent: 10, Received: 2, Dropped: 1, Reconnects: 4},
		{Name: "edge\"2", Status: "stopped", Queued: 7},
	}
	e := start(t, func(o *Options) { o.Bridges = src })
	status, body := e.do(t, "GET", "/api/v4/bridges", "", true)
	if status != http.StatusOK {
		t.Fatalf("GET /api/v4/bridges: %d %s", status, body)
	}
	var got struct {
		Code int `json:"code"`
		Data []struct {
			Node    string   `json:"node"`
			Bridges []Bridge `json:"bridges"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &got); err != nil || got.Code != 0 || len(got.Data) != 1 || len(got.Data[0].Bridges) != 2 || got.Data[0].Bridges[0] != src[0] {
		t.Fatalf("GET /api/v4/bridges: %v %s", err, body)
	}
	status, body = e.do(t, "GET", "/api/v4/nodes/"+e.node.Name()+"/bridges", "", true)
	if status != http.StatusOK || !json.Valid(body) {
		t.Fatalf("GET /api/v4/nodes/%s/bridges: %d %s", e.node.Name(), status, body)
	}
	fams := scrape(t, e)
	f := fams["emqx_bridge_queued_messages"]
	if f == nil || f.GetType() != dto.MetricType_GAUGE || len(f.Metric) != 2 {
		t.Fatalf("emqx_bridge_queued_messages: %v", f)
	}
	for _, m := range f.Metric {
		name := m.Label[0].GetValue()
		want := map[string]float64{"aws": 3, "edge\"2": 7}[name]
		if m.Label[0].GetName() != "bridge" || m.GetGauge().GetValue() != want {
			t.Errorf("sample %v: want bridge=%q %v", m, name, want)
		}
	}
	if s := fams["emqx_bridge_sent_total"]; s == nil || s.GetType() != dto.MetricType_COUNTER || s.Metric[0].GetCounter().GetValue() != 10 {
		t.Errorf("emqx_bridge_sent_total: %v", s)
	}
}
